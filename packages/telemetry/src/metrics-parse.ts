/** One sample of a Prometheus text exposition. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created', ''];

function parseValue(text: string, line: number): number {
  // Like Prometheus (Go's ParseFloat): NaN and Inf are case-insensitive.
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`line ${line}: '${text}' is not a sample value`);
  return value;
}

function parseLabels(body: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  let at = 0;
  while (at < body.length) {
    LABEL.lastIndex = at;
    const m = LABEL.exec(body);
    if (!m || m.index !== at) throw new Error(`line ${line}: malformed labels '{${body}}'`);
    labels[m[1] as string] = (m[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    at = LABEL.lastIndex;
  }
  return labels;
}

/**
 * Parses the Prometheus text exposition format (version 0.0.4) strictly: every line must be a
 * comment, a HELP/TYPE line, or a sample of a declared family. Throws naming the first bad line.
 */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (!m) return;
      const [, kind, name = '', rest = ''] = m;
      if (!NAME.test(name)) throw new Error(`line ${n}: bad metric name '${name}'`);
      const family = families.get(name) ?? { name, type: 'untyped', help: '', samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${n}: unknown metric type '${rest}'`);
        families.set(name, { ...family, type: rest });
      } else families.set(name, { ...family, help: rest });
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`line ${n}: not a sample line: ${line}`);
    const name = m[1] as string;
    const sample: PromSample = { name, labels: parseLabels(m[3] ?? '', n), value: parseValue(m[4] as string, n) };
    const family = SUFFIXES.map((s) =>
      name.endsWith(s) ? families.get(name.slice(0, name.length - s.length)) : undefined,
    ).find((f) => f !== undefined);
    if (!family) throw new Error(`line ${n}: sample '${name}' has no # TYPE line`);
    family.samples.push(sample);
  });
  return families;
}
