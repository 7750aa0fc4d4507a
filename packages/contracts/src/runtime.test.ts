import { describe, expect, it } from 'vitest';
import { parseStageRunId, parseTaggedFailure, stageRunId, tagFailure } from './runtime.js';

describe('runtime conventions', () => {
  it('maps stages to job run ids and back', () => {
    expect(stageRunId('demo-ab12', 'teacher')).toBe('demo-ab12.teacher');
    expect(stageRunId('demo-ab12', 'student')).toBe('demo-ab12');
    expect(parseStageRunId('demo-ab12.teacher')).toEqual({ runId: 'demo-ab12', stage: 'teacher' });
    expect(parseStageRunId('demo-ab12')).toEqual({ runId: 'demo-ab12', stage: 'student' });
  });

  it('tags failures with their cause; untagged ones count as crashes', () => {
    expect(parseTaggedFailure(tagFailure('bad-input', "region 'x': no such file"))).toEqual({
      cause: 'bad-input',
      reason: "region 'x': no such file",
    });
    expect(parseTaggedFailure('[nonsense] boom')).toEqual({ cause: 'crashed', reason: '[nonsense] boom' });
    expect(parseTaggedFailure('boom')).toEqual({ cause: 'crashed', reason: 'boom' });
  });
});
