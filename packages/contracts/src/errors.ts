/** Base class of every error lorkd raises on purpose: a stable `code`, structured `fields`, and a `cause`. */
export class LorkdError extends Error {
  readonly code: string;
  readonly fields: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { fields?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.fields = options.fields ?? {};
  }
}

/** One problem found while validating user input: where (a dotted path) and what. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** A spec or config failed validation; `issues` lists every problem, each naming its field. */
export class ValidationError extends LorkdError {
  readonly issues: readonly ValidationIssue[];

  constructor(what: string, issues: readonly ValidationIssue[], options: { cause?: unknown } = {}) {
    const lines = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
    super('E_VALIDATION', `invalid ${what}:\n${lines}`, { fields: { what, issues }, cause: options.cause });
    this.issues = issues;
  }
}
