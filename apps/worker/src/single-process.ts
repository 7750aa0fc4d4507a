import { type Logger, type RunSpec, silentLogger } from '@lorkd/contracts';
import { sumOfSquares } from './engine/engine.js';
import { LorkdEngine, stageSteps } from './engine/lorkd-engine.js';

/**
 * The reference: the same run trained in one process without any runtime (teacher stage when the
 * spec trains one, then the student), on the full global batch each step. Returns the final
 * parameters of the teacher (if trained) and the student.
 */
export async function trainSingleProcess(
  spec: RunSpec,
  logger: Logger = silentLogger,
): Promise<{ teacher?: Map<string, Float32Array>; student: Map<string, Float32Array> }> {
  const regions = spec.regions.map((r) => r.name);
  let teacher: Map<string, Float32Array> | undefined;
  for (const stage of ['teacher', 'student'] as const) {
    if (stage === 'teacher' && spec.teacher.kind !== 'train') continue;
    const engine = await LorkdEngine.create(
      {
        spec,
        stage,
        regions,
        replica: 0,
        replicas: 1,
        ...(stage === 'student' && teacher ? { teacherParams: teacher } : {}),
      },
      logger,
    );
    try {
      const layout = await engine.layout();
      for (let step = 0; step < stageSteps(spec, stage); step++) {
        const g = await engine.gradients(step);
        let scale = 1;
        if (spec.training.gradClipNorm !== undefined) {
          let sq = 0;
          for (const l of layout) sq += sumOfSquares(g.grads.get(l.group) as Float32Array);
          const norm = Math.sqrt(sq);
          if (norm > spec.training.gradClipNorm) scale = spec.training.gradClipNorm / norm;
        }
        await engine.apply(step, g.grads, scale);
      }
      const params = (await engine.snapshot()).params;
      if (stage === 'teacher') teacher = params;
      else return { ...(teacher ? { teacher } : {}), student: params };
    } finally {
      await engine.close();
    }
  }
  throw new Error('unreachable: the student stage always runs');
}
