import type { ApiClient } from './api-client.js';
import { count, percent, table } from './format.js';
import { type CliIo, out } from './io.js';

/** One row of the per-region comparison: accuracy of teacher, shared student and expert, and sizes. */
export interface ReportRow {
  readonly region: string;
  readonly teacher?: number;
  readonly student?: number;
  readonly expert?: number;
  readonly teacherParams?: number;
  readonly studentParams?: number;
  readonly expertParams?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const numberIn = (v: unknown, ...keys: string[]): number | undefined => {
  if (typeof v === 'number') return v;
  if (!isObj(v)) return undefined;
  for (const k of keys) if (typeof v[k] === 'number') return v[k] as number;
  return undefined;
};

/**
 * Reads the per-region rows from a report.json. Accepts `regions` as an array of
 * `{ region|name, teacher, student|shared, expert }` (each a number or `{ accuracy, params }`) or as
 * a map keyed by region, or the coordinator's rows (`teacherAccuracy`, `sharedStudentAccuracy`,
 * `expertAccuracy`), plus top-level `params: { teacher, student, foldedExpert }`.
 */
export function reportRows(report: unknown): ReportRow[] {
  if (!isObj(report)) return [];
  const raw = report.regions;
  const list: Obj[] = Array.isArray(raw)
    ? raw.filter(isObj)
    : isObj(raw)
      ? Object.entries(raw).map(([region, v]) => ({ region, ...(isObj(v) ? v : {}) }))
      : [];
  const params = isObj(report.params) ? report.params : {};
  return list.map((r) => {
    const student = r.student ?? r.shared ?? r.sharedStudent;
    return {
      region: String(r.region ?? r.name ?? '?'),
      teacher: numberIn(r.teacher, 'accuracy', 'acc') ?? numberIn(r, 'teacherAccuracy'),
      student: numberIn(student, 'accuracy', 'acc') ?? numberIn(r, 'sharedStudentAccuracy', 'studentAccuracy'),
      expert: numberIn(r.expert, 'accuracy', 'acc') ?? numberIn(r, 'expertAccuracy'),
      teacherParams: numberIn(r.teacher, 'params', 'parameters') ?? numberIn(params, 'teacher'),
      studentParams: numberIn(student, 'params', 'parameters') ?? numberIn(params, 'student', 'shared'),
      expertParams:
        numberIn(r.expert, 'params', 'parameters') ??
        numberIn(r, 'expertParams') ??
        numberIn(params, 'foldedExpert', 'expert'),
    };
  });
}

export function renderReportTable(rows: readonly ReportRow[]): string {
  return table(
    [
      'region',
      'teacher acc',
      'shared student acc',
      'expert acc',
      'expert − student',
      'teacher params',
      'expert params',
    ],
    rows.map((r) => [
      r.region,
      percent(r.teacher),
      percent(r.student),
      percent(r.expert),
      r.expert !== undefined && r.student !== undefined ? `${((r.expert - r.student) * 100).toFixed(1)} pt` : '–',
      count(r.teacherParams),
      count(r.expertParams ?? r.studentParams),
    ]),
    [false, true, true, true, true, true, true],
  );
}

/** Fetches report.json of a finished run and prints its table (or the JSON); returns the rows. */
export async function printReport(client: ApiClient, runId: string, io: CliIo, json: boolean): Promise<ReportRow[]> {
  const body = await client.reportFile(runId, 'report.json');
  if (!body) {
    out(io, `run ${runId} has no report yet`);
    return [];
  }
  const report = JSON.parse(new TextDecoder().decode(body)) as unknown;
  const rows = reportRows(report);
  if (json) out(io, JSON.stringify({ runId, report, rows }, null, 2));
  else out(io, renderReportTable(rows));
  return rows;
}
