import { type Logger, type RunSpec, stageRunId } from '@lorkd/contracts';
import { type Dataset, loadDataset } from '@lorkd/data';
import {
  buildStudent,
  buildTeacher,
  type EvalResult,
  evaluate,
  fold,
  type LorkdModel,
  modelConfigsFromRunSpec,
  setParams,
} from '@lorkd/model';
import { CheckpointStore, type ObjectStore, storageIOHandler, type TfjsIOOptions } from '@lorkd/storage';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

/** One region's row of the report. */
export interface RegionReport {
  readonly region: string;
  readonly testSamples: number;
  readonly teacherAccuracy: number | null;
  readonly sharedStudentAccuracy: number;
  readonly expertAccuracy: number;
  readonly foldedExpertAccuracy: number;
  readonly expertUrl: string;
}

/** `report/report.json`. */
export interface RunReport {
  readonly runId: string;
  readonly name: string;
  readonly createdAt: string;
  readonly steps: number;
  readonly teacherSteps: number | null;
  readonly params: { readonly teacher: number | null; readonly student: number; readonly foldedExpert: number };
  readonly regions: readonly RegionReport[];
  readonly mean: {
    readonly teacherAccuracy: number | null;
    readonly sharedStudentAccuracy: number;
    readonly expertAccuracy: number;
  };
}

const PARAM = 'param:';

async function loadParams(store: ObjectStore, jobRunId: string, logger: Logger): Promise<Map<string, Float32Array>> {
  const ckpts = await CheckpointStore.create({ store, runId: jobRunId, logger });
  const loaded = await ckpts.loadLatest();
  if (!loaded) throw new Error(`run ${jobRunId} has no checkpoint to export`);
  const out = new Map<string, Float32Array>();
  for (const [k, t] of loaded.tensors)
    if (k.startsWith(PARAM))
      out.set(k.slice(PARAM.length), t.data instanceof Float32Array ? t.data : Float32Array.from(t.data));
  return out;
}

function testBatch(dataset: Dataset, spec: RunSpec) {
  const t = dataset.test;
  const labels = spec.task === 'segmentation' && t.masks ? Int32Array.from(t.masks) : t.labels;
  return { x: t.images, labels, regions: t.regions };
}

function accuracyOf(result: EvalResult, region: string): number {
  return result.regions.find((r) => r.name === region)?.accuracy ?? 0;
}

function paramCount(model: LorkdModel): number {
  return model.params.reduce((a, p) => a + p.size, 0);
}

/** Accuracy of a folded expert (plain LayersModel) on the listed samples: argmax over the last axis. */
function foldedAccuracy(
  folded: LayersModel,
  batch: { x: Float32Array; labels: Int32Array; regions: Int32Array },
  idx: readonly number[],
  imageShape: readonly number[],
): number {
  if (idx.length === 0) return 0;
  const per = imageShape.reduce((a, b) => a * b, 1);
  const lp = batch.labels.length / Math.max(1, batch.regions.length);
  const x = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length * lp);
  idx.forEach((i, k) => {
    x.set(batch.x.subarray(i * per, (i + 1) * per), k * per);
    y.set(batch.labels.subarray(i * lp, (i + 1) * lp), k * lp);
  });
  const pred = tf.tidy(() => {
    const out = folded.predict(tf.tensor(x, [idx.length, ...imageShape])) as tf.Tensor;
    return tf.argMax(out, -1);
  });
  const p = pred.dataSync();
  pred.dispose();
  let hit = 0;
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) hit++;
  return hit / y.length;
}

/**
 * The export of a finished run: loads the final student (and teacher) checkpoint, evaluates the
 * teacher, the shared student (backbone only) and each region's expert on that region's test split,
 * folds every expert into a plain tfjs LayersModel saved under `experts/REGION/`, and returns the
 * report (the caller writes it).
 */
export async function exportRun(input: {
  runId: string;
  spec: RunSpec;
  createdAt: string;
  store: ObjectStore;
  runUrl: string;
  io: TfjsIOOptions;
  logger: Logger;
}): Promise<RunReport> {
  const { runId, spec, store, logger } = input;
  const dataset = await loadDataset(spec);
  const channels = dataset.imageShape[dataset.imageShape.length - 1] ?? 1;
  const configs = modelConfigsFromRunSpec(spec, channels);
  const student = buildStudent(configs.student);
  let teacher: LorkdModel | undefined;
  try {
    setParams(student, await loadParams(store, stageRunId(runId, 'student'), logger));
    if (configs.teacher) {
      teacher = buildTeacher(configs.teacher);
      setParams(teacher, await loadParams(store, stageRunId(runId, 'teacher'), logger));
    }
    const batch = testBatch(dataset, spec);
    const experts = evaluate(student, batch);
    const shared = evaluate(student, batch, { strategy: { region: -1 } });
    const teacherEval = teacher ? evaluate(teacher, batch) : undefined;
    const regions: RegionReport[] = [];
    let foldedParams = 0;
    for (const [t, region] of spec.regions.entries()) {
      const folded = fold(student, t);
      const url = `${input.runUrl}/experts/${region.name}`;
      try {
        await folded.save(storageIOHandler(url, input.io));
        if (foldedParams === 0) foldedParams = folded.countParams();
        const idx = Array.from(batch.regions).flatMap((r, i) => (r === t ? [i] : []));
        const acc = foldedAccuracy(folded, batch, idx, dataset.imageShape);
        regions.push({
          region: region.name,
          testSamples: idx.length,
          teacherAccuracy: teacherEval ? accuracyOf(teacherEval, region.name) : null,
          sharedStudentAccuracy: accuracyOf(shared, region.name),
          expertAccuracy: accuracyOf(experts, region.name),
          foldedExpertAccuracy: acc,
          expertUrl: `${url}/model.json`,
        });
      } finally {
        folded.dispose();
      }
      logger.info('expert exported', { runId, region: region.name, url });
    }
    const mean = (f: (r: RegionReport) => number | null) =>
      regions.length ? regions.reduce((a, r) => a + (f(r) ?? 0), 0) / regions.length : 0;
    return {
      runId,
      name: spec.name,
      createdAt: input.createdAt,
      steps: spec.training.steps,
      teacherSteps: spec.teacher.kind === 'train' ? spec.teacher.steps : null,
      params: {
        teacher: teacher ? paramCount(teacher) : null,
        student: paramCount(student),
        foldedExpert: foldedParams,
      },
      regions,
      mean: {
        teacherAccuracy: teacherEval ? mean((r) => r.teacherAccuracy) : null,
        sharedStudentAccuracy: mean((r) => r.sharedStudentAccuracy),
        expertAccuracy: mean((r) => r.expertAccuracy),
      },
    };
  } finally {
    student.dispose();
    teacher?.dispose();
  }
}
