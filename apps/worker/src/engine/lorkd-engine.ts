import { type Logger, type RunSpec, silentLogger } from '@lorkd/contracts';
import { type Dataset, gatherBatch, Sampler } from '@lorkd/data';
import {
  buildStudent,
  buildTeacher,
  computeGradients,
  createOptimizer,
  getParams,
  type LorkdModel,
  modelConfigsFromRunSpec,
  type Optimizer,
  setParams,
  teacherLogits,
} from '@lorkd/model';
import type { EngineSnapshot, GroupLayout, SlotEngine, SlotSeat, StepGradients } from './engine.js';
import { loadRunDataset } from './run-dataset.js';

/** What a slot trains: the run's spec, the stage, and this slot's part of every global batch. */
export interface LorkdEngineInit extends SlotSeat {
  readonly spec: RunSpec;
  /** `teacher`: the plain teacher network on the task loss only; `student`: LoRKD student with KD. */
  readonly stage: 'teacher' | 'student';
  /** Teacher parameters (student stage with β > 0). */
  readonly teacherParams?: Map<string, Float32Array>;
}

/** The train step count of a stage. */
export function stageSteps(spec: RunSpec, stage: 'teacher' | 'student'): number {
  return stage === 'teacher' && spec.teacher.kind === 'train' ? spec.teacher.steps : spec.training.steps;
}

/** The network a stage trains (teacher: no experts; student: experts on every conv). */
export function buildStageModel(spec: RunSpec, stage: 'teacher' | 'student', channels: number): LorkdModel {
  const configs = modelConfigsFromRunSpec(spec, channels);
  if (stage === 'teacher') {
    if (!configs.teacher)
      throw new Error('this spec loads its teacher from a checkpoint: there is no teacher to train');
    return buildTeacher(configs.teacher);
  }
  return buildStudent(configs.student);
}

/** The teacher network of a spec (to load trained parameters into). */
export function buildSpecTeacher(spec: RunSpec, channels: number): LorkdModel {
  const configs = modelConfigsFromRunSpec(spec, channels);
  if (!configs.teacher) throw new Error('this spec loads its teacher from a checkpoint, which is not supported yet');
  return buildTeacher(configs.teacher);
}

/**
 * The tfjs side of a slot: model, optimiser, dataset and sampler. `gradients(step)` computes this
 * slot's shard of the global batch with losses divided by the GLOBAL batch size, so the sum over
 * slots is exactly the single-process gradient.
 */
export class LorkdEngine implements SlotEngine {
  private constructor(
    private readonly init: LorkdEngineInit,
    private seat: SlotSeat,
    private readonly dataset: Dataset,
    private readonly sampler: Sampler,
    private readonly model: LorkdModel,
    private readonly teacher: LorkdModel | undefined,
    private readonly optimizer: Optimizer,
    private readonly groups: readonly GroupLayout[],
    private regionIdx: readonly number[],
    private applied: number,
  ) {}

  static async create(init: LorkdEngineInit, logger: Logger = silentLogger): Promise<LorkdEngine> {
    const { spec, stage } = init;
    const dataset = await loadRunDataset(spec);
    const channels = dataset.imageShape[dataset.imageShape.length - 1] ?? 1;
    const model = buildStageModel(spec, stage, channels);
    let teacher: LorkdModel | undefined;
    if (stage === 'student' && init.teacherParams && spec.training.kd.beta > 0) {
      teacher = buildSpecTeacher(spec, channels);
      setParams(teacher, init.teacherParams);
    }
    const sampler = Sampler.forDataset(dataset, {
      seed: spec.training.seed,
      batchPerRegion: spec.training.batchPerRegion,
    });
    const optimizer = createOptimizer({
      optimizer: spec.training.optimizer,
      schedule: spec.training.schedule,
      totalSteps: stageSteps(spec, stage),
    });
    const order = ['shared', ...spec.regions.map((r) => `expert:${r.name}`)];
    const groups: GroupLayout[] = order
      .map((group) => {
        const ps = model.params.filter((p) => p.group === group);
        return {
          group,
          names: ps.map((p) => p.name),
          sizes: ps.map((p) => p.size),
          length: ps.reduce((a, p) => a + p.size, 0),
        };
      })
      .filter((g) => g.length > 0);
    const regionIdx = init.regions.map((name) => model.regionIndex(name));
    logger.debug('engine ready', { stage, params: model.params.length, regions: init.regions });
    const seat = { regions: init.regions, replica: init.replica, replicas: init.replicas };
    return new LorkdEngine(init, seat, dataset, sampler, model, teacher, optimizer, groups, regionIdx, 0);
  }

  get datasetHash(): string {
    return this.dataset.hash;
  }

  async layout(): Promise<readonly GroupLayout[]> {
    return this.groups;
  }

  async gradients(step: number): Promise<StepGradients> {
    const { spec } = this.init;
    const idx = this.sampler.shardFor(step, {
      regions: this.regionIdx,
      replica: this.seat.replica,
      replicas: this.seat.replicas,
    });
    const b = gatherBatch(this.dataset, idx);
    const labels = spec.task === 'segmentation' && b.masks ? Int32Array.from(b.masks) : b.labels;
    const batch = { x: b.x, labels, regions: b.regions };
    const tl = this.teacher ? teacherLogits(this.teacher, batch.x, batch.regions) : undefined;
    const res = computeGradients(this.model, batch, tl, {
      beta: spec.training.kd.beta,
      temperature: spec.training.kd.temperature,
      globalBatchSize: this.sampler.globalBatchSize,
    });
    const grads = new Map<string, Float32Array>();
    for (const g of this.groups) {
      const flat = new Float32Array(g.length);
      let at = 0;
      g.names.forEach((name, i) => {
        const v = res.grads.get(name);
        if (v) flat.set(v, at);
        at += g.sizes[i] as number;
      });
      grads.set(g.group, flat);
    }
    return {
      grads,
      loss: res.loss.total,
      taskLoss: res.loss.task,
      kdLoss: res.loss.kd,
      samples: res.loss.count,
      ...(res.loss.byRegion ? { regionLoss: res.loss.byRegion } : {}),
    };
  }

  async apply(step: number, grads: Map<string, Float32Array>, scale: number): Promise<void> {
    const byName = new Map<string, Float32Array>();
    for (const g of this.groups) {
      const flat = grads.get(g.group);
      if (!flat) continue;
      let at = 0;
      g.names.forEach((name, i) => {
        const size = g.sizes[i] as number;
        const part = flat.slice(at, at + size);
        if (scale !== 1) for (let k = 0; k < part.length; k++) part[k] = (part[k] as number) * scale;
        byName.set(name, part);
        at += size;
      });
    }
    this.optimizer.apply(this.model, byName, step);
    this.applied = step + 1;
  }

  async snapshot(): Promise<EngineSnapshot> {
    return {
      params: getParams(this.model),
      optimizer: this.optimizer.getState(),
      step: this.applied,
      datasetHash: this.dataset.hash,
    };
  }

  async restore(snapshot: EngineSnapshot): Promise<void> {
    setParams(this.model, snapshot.params);
    this.optimizer.setState(snapshot.optimizer);
    this.applied = snapshot.step;
  }

  /** The model holds every region's expert whatever the seat, so a new seat only changes the shard. */
  async reseat(seat: SlotSeat): Promise<void> {
    this.regionIdx = seat.regions.map((name) => this.model.regionIndex(name));
    this.seat = { regions: [...seat.regions], replica: seat.replica, replicas: seat.replicas };
  }

  async close(): Promise<void> {
    this.model.dispose();
    this.teacher?.dispose();
  }
}
