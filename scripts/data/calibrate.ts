// Measures the phantom benchmark's difficulty and cross-region conflict with real training:
//   (1) one small CNN per region, trained on that region alone;
//   (2) one shared CNN (shared backbone, per-region heads) trained on all regions with the same steps;
//   (3) cosine similarity of per-region gradients of the shared backbone, per region pair;
//   optionally (4) a LoRKD student (shared backbone + per-region low-rank experts), --student.
// Engines: `tiny` (default; scripts/data/tiny-cnn.ts, plain TypeScript, 3 stride-2 convs of width, 2·width,
// 4·width channels, global average pool, per-region linear heads) or `lorkd` (@lorkd/model's resnet with
// AdamW on the best @lorkd/compute backend; ~10x slower per sample on this box).
// node --conditions=lorkd-source --import tsx scripts/data/calibrate.ts [--engine tiny|lorkd] [--size 64]
//   [--train 2000] [--test 500] [--conflict 0.7] [--steps 300] [--batch 16] [--width 8] [--depth 2]
//   [--lr 0.003] [--only single|shared] [--augment full|intensity|none] [--out FILE.json]
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { selectBackend } from '@lorkd/compute';
import { type Dataset, gatherBatch, generatePhantoms, Sampler } from '@lorkd/data';
import { buildStudent, buildTeacher, computeGradients, createOptimizer, evaluate, type LorkdModel } from '@lorkd/model';
import { TinyCnn } from './tiny-cnn.ts';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    train: { type: 'string', default: '2000' },
    test: { type: 'string', default: '500' },
    conflict: { type: 'string', default: '0.7' },
    steps: { type: 'string', default: '300' },
    batch: { type: 'string', default: '16' },
    width: { type: 'string', default: '8' },
    depth: { type: 'string', default: '2' },
    lr: { type: 'string', default: '0.003' },
    seed: { type: 'string', default: '7' },
    regions: { type: 'string' },
    'cosine-samples': { type: 'string', default: '64' },
    student: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'auto' },
    engine: { type: 'string', default: 'tiny' },
    only: { type: 'string' },
    // full: the sampler's default augmentation (rotation, scale, shift with bilinear resampling, gain/offset);
    // intensity: gain/offset jitter only (resampling smooths the pixel noise, and the noise-level texture that
    // decides some phantom findings then looks different in training and test images); none.
    augment: { type: 'string', default: 'full' },
    out: { type: 'string' },
  },
});
const say = (s: string) => process.stdout.write(`${s}\n`);
const size = Number(values.size) as 28 | 64 | 128;
const steps = Number(values.steps);
const B = Number(values.batch);
const width = Number(values.width);
const depth = Number(values.depth);
const lr = Number(values.lr);
const seed = Number(values.seed);
const conflict = Number(values.conflict);

const decision = values.engine === 'lorkd' ? await selectBackend({ preference: values.backend as 'auto' }) : undefined;
say(`engine: ${values.engine}${decision ? ` on ${decision.tier}` : ''}`);

let t0 = performance.now();
const data = generatePhantoms({
  imageSize: size,
  trainPerRegion: Number(values.train),
  valPerRegion: 0,
  testPerRegion: Number(values.test),
  conflict,
  seed,
  masks: false,
  ...(values.regions ? { regions: values.regions.split(',') } : {}),
});
const R = data.regions.length;
say(
  `data: ${R} regions, ${data.train.n} train / ${data.test.n} test at ${size}², conflict ${conflict} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);

function indicesOf(d: Dataset, split: 'train' | 'test', r: number): Int32Array {
  const s = d[split];
  const out: number[] = [];
  for (let i = 0; i < s.n; i++) if (s.regions[i] === r) out.push(i);
  return Int32Array.from(out);
}

/** A trainable classifier with per-region heads, from either engine. */
interface Engine {
  /** One optimiser step on a batch; `heads` are the model's head indices. Returns the loss. */
  step(x: Float32Array, labels: Int32Array, heads: Int32Array, step: number): number;
  accuracy(x: Float32Array, labels: Int32Array, head: number): number;
  /** Predicted class per sample (tiny engine only; used for the confusion matrices). */
  predict?(x: Float32Array, n: number, head: number): Int32Array;
  /** Gradient of the shared backbone (no heads) on a batch. */
  backboneGradient(x: Float32Array, labels: Int32Array, heads: Int32Array): Float32Array;
  dispose(): void;
}

const lrAt = (step: number): number => {
  const warm = Math.min(20, Math.floor(steps / 10));
  if (step < warm) return (lr * (step + 1)) / warm;
  const p = Math.min(1, (step - warm) / Math.max(1, steps - 1 - warm));
  return lr * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * p)));
};

function tinyEngine(classes: number[]): Engine {
  const specs = Array.from({ length: depth + 1 }, (_, i) => ({
    channels: width * 2 ** Math.min(i, 2),
    stride: 2 as const,
  }));
  const net = new TinyCnn(size, specs, classes, seed);
  return {
    step(x, labels, heads, step) {
      const { grad, loss } = net.gradient(x, labels, heads);
      net.adam(grad, lrAt(step));
      return loss;
    },
    accuracy(x, labels, head) {
      const px = size * size;
      let ok = 0;
      for (let i = 0; i < labels.length; i++) {
        const z = net.logits(x.subarray(i * px, (i + 1) * px), head);
        let best = 0;
        for (let k = 1; k < z.length; k++) if ((z[k] as number) > (z[best] as number)) best = k;
        if (best === labels[i]) ok++;
      }
      return ok / Math.max(1, labels.length);
    },
    predict(x, n, head) {
      const px = size * size;
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const z = net.logits(x.subarray(i * px, (i + 1) * px), head);
        let best = 0;
        for (let k = 1; k < z.length; k++) if ((z[k] as number) > (z[best] as number)) best = k;
        out[i] = best;
      }
      return out;
    },
    backboneGradient(x, labels, heads) {
      return net.gradient(x, labels, heads).grad.slice(0, net.backboneSize);
    },
    dispose() {},
  };
}

function lorkdEngine(classes: number[], experts: boolean): Engine {
  const config = {
    family: 'resnet' as const,
    inputShape: [size, size, 1] as [number, number, number],
    width,
    depth,
    groupNormGroups: 4,
    regions: classes.map((k, i) => ({ name: `r${i}`, numClasses: k, rank: 4 })),
    seed,
  };
  const model: LorkdModel = experts ? buildStudent(config) : buildTeacher(config);
  const opt = createOptimizer({
    optimizer: { kind: 'adamw', lr, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-4 },
    schedule: { kind: 'cosine', warmupSteps: Math.min(20, Math.floor(steps / 10)), minLrRatio: 0.05 },
    totalSteps: steps,
  });
  const backbone = model.params.filter((p) => p.group === 'shared' && !p.role.startsWith('head'));
  return {
    step(x, labels, heads, step) {
      const { loss, grads } = computeGradients(model, { x, labels, regions: heads }, undefined);
      opt.apply(model, grads, step);
      return loss.total;
    },
    accuracy(x, labels, head) {
      const res = evaluate(model, { x, labels, regions: new Int32Array(labels.length).fill(head) });
      return res.regions[head]?.accuracy ?? 0;
    },
    backboneGradient(x, labels, heads) {
      const { grads } = computeGradients(model, { x, labels, regions: heads }, undefined);
      const out = new Float32Array(backbone.reduce((a, p) => a + p.size, 0));
      let o = 0;
      for (const p of backbone) {
        out.set(grads.get(p.name) ?? new Float32Array(p.size), o);
        o += p.size;
      }
      return out;
    },
    dispose: () => model.dispose(),
  };
}

const makeEngine = (classes: number[], experts = false): Engine =>
  values.engine === 'lorkd' ? lorkdEngine(classes, experts) : tinyEngine(classes);

const augment =
  values.augment === 'none'
    ? undefined
    : values.augment === 'intensity'
      ? { flip: false, rotateDeg: 0, scale: 0, translate: 0 }
      : { flip: false };
if (values.augment !== 'none' && values.augment !== 'intensity' && values.augment !== 'full')
  throw new Error(`--augment must be full, intensity or none (got ${values.augment})`);

/** Trains for `steps` steps on batches from `sampler`; `remap` maps dataset region → head. */
function train(
  engine: Engine,
  sampler: Sampler,
  remap: (r: number) => number,
  label: string,
  onStep?: (s: number) => void,
): void {
  const t = performance.now();
  let lossSum = 0;
  const every = Math.max(1, Math.floor(steps / 4));
  for (let step = 0; step < steps; step++) {
    const b = gatherBatch(
      data,
      sampler.globalBatch(step),
      augment ? { augment: { seed, step, options: augment } } : {},
    );
    lossSum += engine.step(b.x, b.labels, b.regions.map(remap), step);
    onStep?.(step);
    if ((step + 1) % every === 0) {
      say(
        `  ${label} step ${step + 1}/${steps}: mean loss ${(lossSum / every).toFixed(3)} (${((performance.now() - t) / 1000).toFixed(0)} s)`,
      );
      lossSum = 0;
    }
  }
}

/** Confusion matrices of the last testAccuracy calls, per arm and region: [true class][predicted class]. */
const confusion: Record<string, Record<string, number[][]>> = {};

function testAccuracy(engine: Engine, r: number, head: number, arm: string): number {
  const b = gatherBatch(data, indicesOf(data, 'test', r), { split: 'test' });
  if (!engine.predict) return engine.accuracy(b.x, b.labels, head);
  const k = data.regions[r]?.labels.length ?? 0;
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const pred = engine.predict(b.x, b.n, head);
  let ok = 0;
  for (let i = 0; i < b.n; i++) {
    const t = b.labels[i] as number;
    const p = pred[i] as number;
    (m[t] as number[])[p] = ((m[t] as number[])[p] as number) + 1;
    if (t === p) ok++;
  }
  confusion[arm] ??= {};
  (confusion[arm] as Record<string, number[][]>)[data.regions[r]?.name ?? String(r)] = m;
  return ok / Math.max(1, b.n);
}

/** Backbone gradient of region r on `n` training samples (a fixed, spread-out pick). */
function regionGradient(engine: Engine, r: number, n: number): Float32Array {
  const all = indicesOf(data, 'train', r);
  const pick = new Int32Array(Math.min(n, all.length));
  for (let i = 0; i < pick.length; i++) pick[i] = all[(i * 7919) % all.length] as number;
  const b = gatherBatch(data, pick);
  return engine.backboneGradient(b.x, b.labels, b.regions);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] as number) * (b[i] as number);
    aa += (a[i] as number) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb + 1e-30);
}

const names = data.regions.map((r) => r.name);
const classes = data.regions.map((r) => r.labels.length);
const result: Record<string, unknown> = {
  command: `node --conditions=lorkd-source --import tsx scripts/data/calibrate.ts ${process.argv.slice(2).join(' ')}`,
  engine: values.engine,
  backend: values.engine === 'lorkd' ? decision?.tier : 'plain TypeScript',
  settings: {
    size,
    train: Number(values.train),
    test: Number(values.test),
    conflict,
    steps,
    batchPerRegion: B,
    width,
    depth,
    lr,
    seed,
    augment: values.augment,
  },
  regions: data.regions,
  datasetHash: data.hash,
};
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

// (1) single-region models.
const single: number[] = [];
if (values.only !== 'shared') {
  for (let r = 0; r < R; r++) {
    const name = names[r] ?? '';
    const engine = makeEngine([classes[r] ?? 2]);
    const sampler = new Sampler({
      seed,
      datasetHash: data.hash,
      regionSampleIndices: [indicesOf(data, 'train', r)],
      batchPerRegion: B,
    });
    t0 = performance.now();
    train(engine, sampler, () => 0, `single ${name}`);
    single.push(testAccuracy(engine, r, 0, 'single'));
    say(
      `single-region ${name}: test accuracy ${pct(single[r] as number)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
    engine.dispose();
  }
  result.singleRegionAccuracy = Object.fromEntries(names.map((n, r) => [n, single[r]]));
}

// (2) one shared model; (3) per-region backbone gradient cosines at initialisation, mid-training and the end.
let sharedAcc: number[] = [];
if (values.only !== 'single') {
  const shared = makeEngine(classes);
  const cosAt = (tag: string): number[][] => {
    const grads = names.map((_, r) => regionGradient(shared, r, Number(values['cosine-samples'])));
    const m = names.map((_, a) => names.map((__, b) => cosine(grads[a] as Float32Array, grads[b] as Float32Array)));
    say(
      `gradient cosines (${tag}):\n${m.map((row, a) => `  ${(names[a] ?? '').padEnd(10)} ${row.map((v) => v.toFixed(2).padStart(6)).join('')}`).join('\n')}`,
    );
    return m;
  };
  const cosines: Record<string, number[][]> = { init: cosAt('initialisation') };
  t0 = performance.now();
  train(
    shared,
    Sampler.forDataset(data, { seed, batchPerRegion: B }),
    (r) => r,
    'shared',
    (s) => {
      if (s + 1 === Math.floor(steps / 2)) cosines.mid = cosAt(`step ${s + 1}`);
    },
  );
  cosines.end = cosAt(`step ${steps}`);
  sharedAcc = names.map((_, r) => testAccuracy(shared, r, r, 'shared'));
  say(
    `shared model (${((performance.now() - t0) / 1000).toFixed(0)} s): ${names.map((n, r) => `${n} ${pct(sharedAcc[r] as number)}`).join(', ')}`,
  );
  result.sharedAccuracy = Object.fromEntries(names.map((n, r) => [n, sharedAcc[r]]));
  const offDiag = (m: number[][]) => {
    const v: number[] = [];
    for (let a = 0; a < m.length; a++) for (let b = a + 1; b < m.length; b++) v.push(m[a]?.[b] ?? 0);
    return {
      mean: v.reduce((x, y) => x + y, 0) / v.length,
      min: Math.min(...v),
      negativePairs: v.filter((c) => c < 0).length,
      pairs: v.length,
    };
  };
  result.gradientCosines = {
    regions: names,
    ...cosines,
    summary: Object.fromEntries(Object.entries(cosines).map(([k, m]) => [k, offDiag(m)])),
  };
  shared.dispose();
}

// (4) optional LoRKD student with per-region experts (lorkd engine only), same budget.
if (values.student && values.engine === 'lorkd') {
  const student = makeEngine(classes, true);
  t0 = performance.now();
  train(student, Sampler.forDataset(data, { seed, batchPerRegion: B }), (r) => r, 'student');
  const acc = names.map((_, r) => testAccuracy(student, r, r, 'student'));
  say(
    `LoRKD student (${((performance.now() - t0) / 1000).toFixed(0)} s): ${names.map((n, r) => `${n} ${pct(acc[r] as number)}`).join(', ')}`,
  );
  result.studentAccuracy = Object.fromEntries(names.map((n, r) => [n, acc[r]]));
  student.dispose();
}

if (single.length && sharedAcc.length) {
  say('\nregion       single  shared  shared-single');
  names.forEach((n, r) => {
    const s = single[r] as number;
    const m = sharedAcc[r] as number;
    say(
      `${n.padEnd(12)} ${(100 * s).toFixed(1).padStart(6)} ${(100 * m).toFixed(1).padStart(7)} ${(100 * (m - s)).toFixed(1).padStart(8)}`,
    );
  });
}
if (Object.keys(confusion).length) result.confusion = confusion;
if (values.out) {
  await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
  say(`wrote ${values.out}`);
}
