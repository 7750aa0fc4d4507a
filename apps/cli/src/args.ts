import { UsageError } from './errors.js';

export interface OptionDef {
  readonly type: 'boolean' | 'string' | 'integer';
  readonly description: string;
  readonly short?: string;
  /** Shown in help, e.g. `N` or `DIR`. */
  readonly value?: string;
  readonly min?: number;
  readonly max?: number;
}

export interface CommandDef {
  readonly name: string;
  readonly summary: string;
  /** e.g. `lorkd run SPEC.yaml [--follow] [--dry-run]`. */
  readonly usage: string;
  readonly positionals: readonly { readonly name: string; readonly required: boolean }[];
  /** Allow any number of extra positionals (e.g. `bench NAME [ARGS…]`). */
  readonly rest?: boolean;
  readonly options: Readonly<Record<string, OptionDef>>;
  readonly examples: readonly string[];
}

export interface ParsedArgs {
  readonly options: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** Options every verb takes. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionDef>> = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  json: { type: 'boolean', description: 'machine-readable JSON output on stdout' },
};

/** Parses `argv` (after the verb) against a command definition; throws UsageError naming the problem. */
export function parseArgs(def: CommandDef, argv: readonly string[]): ParsedArgs {
  const all = { ...COMMON_OPTIONS, ...def.options };
  const byShort = new Map(Object.entries(all).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])));
  const options: Record<string, string | number | boolean | undefined> = {};
  const positionals: string[] = [];
  const problems: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (!name) {
        problems.push(`unknown option ${arg}`);
        continue;
      }
    } else {
      positionals.push(arg);
      continue;
    }
    const opt = all[name];
    if (!opt) {
      problems.push(`unknown option --${name}`);
      continue;
    }
    if (opt.type === 'boolean') {
      if (inline !== undefined && !['true', 'false'].includes(inline)) {
        problems.push(`--${name} takes no value (or =true/=false), got '${inline}'`);
        continue;
      }
      options[name] = inline === undefined ? true : inline === 'true';
      continue;
    }
    const value = inline ?? argv[i + 1];
    if (inline === undefined) i += 1;
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      problems.push(`--${name} needs a value${opt.value ? ` (${opt.value})` : ''}`);
      if (value?.startsWith('--')) i -= 1;
      continue;
    }
    if (opt.type === 'integer') {
      const n = Number(value);
      if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n)) {
        problems.push(`--${name} must be a whole number, got '${value}'`);
        continue;
      }
      if (opt.min !== undefined && n < opt.min) {
        problems.push(`--${name} must be at least ${opt.min}, got ${n}`);
        continue;
      }
      if (opt.max !== undefined && n > opt.max) {
        problems.push(`--${name} must be at most ${opt.max}, got ${n}`);
        continue;
      }
      options[name] = n;
    } else options[name] = value;
  }

  if (!options.help) {
    const required = def.positionals.filter((p) => p.required);
    if (positionals.length < required.length) {
      problems.push(
        `missing ${required
          .slice(positionals.length)
          .map((p) => p.name)
          .join(', ')}`,
      );
    } else if (!def.rest && positionals.length > def.positionals.length) {
      problems.push(`unexpected argument '${positionals[def.positionals.length]}'`);
    }
  }
  if (problems.length > 0) throw new UsageError(problems, def.name);
  return { options, positionals };
}

/** The `--help` text of a command. */
export function helpText(def: CommandDef): string {
  const all = { ...def.options, ...COMMON_OPTIONS };
  const rows = Object.entries(all).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'boolean' ? '' : ` ${o.value ?? 'VALUE'}`}`;
    return `  ${left.padEnd(30)} ${o.description}`;
  });
  const examples = def.examples.map((e) => `  ${e}`).join('\n');
  return `${def.summary}\n\nUsage: ${def.usage}\n\nOptions:\n${rows.join('\n')}\n${examples ? `\nExamples:\n${examples}\n` : ''}`;
}
