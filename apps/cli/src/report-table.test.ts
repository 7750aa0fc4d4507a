import { describe, expect, it } from 'vitest';
import { renderReportTable, reportRows } from './report-table.js';

describe('reportRows', () => {
  it("reads the coordinator's report.json rows and parameter counts", () => {
    const rows = reportRows({
      params: { teacher: 120_000, student: 30_000, foldedExpert: 30_000 },
      regions: [
        {
          region: 'brain',
          teacherAccuracy: 0.8,
          sharedStudentAccuracy: 0.7,
          expertAccuracy: 0.85,
          foldedExpertAccuracy: 0.85,
        },
        { region: 'limbs', teacherAccuracy: null, sharedStudentAccuracy: 0.6, expertAccuracy: 0.65 },
      ],
    });
    expect(rows[0]).toEqual({
      region: 'brain',
      teacher: 0.8,
      student: 0.7,
      expert: 0.85,
      teacherParams: 120_000,
      studentParams: 30_000,
      expertParams: 30_000,
    });
    expect(rows[1]?.teacher).toBeUndefined();
    const text = renderReportTable(rows);
    expect(text.split('\n')[2]).toMatch(/^brain\s+80\.0%\s+70\.0%\s+85\.0%\s+15\.0 pt\s+120\.0k\s+30\.0k$/);
    expect(text.split('\n')[3]).toMatch(/^limbs\s+–\s+60\.0%/);
  });

  it('accepts nested and map forms, and nothing on garbage', () => {
    expect(
      reportRows({ regions: { a: { teacher: { accuracy: 0.5 }, expert: { accuracy: 0.6, params: 10 } } } }),
    ).toEqual([
      {
        region: 'a',
        teacher: 0.5,
        student: undefined,
        expert: 0.6,
        teacherParams: undefined,
        studentParams: undefined,
        expertParams: 10,
      },
    ]);
    expect(reportRows('nope')).toEqual([]);
  });
});
