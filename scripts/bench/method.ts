/**
 * The LoRKD method check at a fuller size: a teacher trained on all regions of conflicting multi-region
 * data (oriented gratings; region t asks "is grating t stronger than grating t+1?"), the same narrow
 * student distilled without experts (MTL-KD) and with per-region experts (LoRKD), and the folded
 * experts. Prints per-region accuracy and parameter counts (markdown table, or one JSON line).
 * `--data phantoms` runs the same on the phantom anatomies of `@lorkd/data` (`generatePhantoms`: the first
 * `--regions` anatomies, or `--regions limbs,pelvis,thorax,spine` by name, `--train`/`--test` images per region,
 * `--size` 28|64|128, `--conflict`). With phantoms `--lr` defaults to 0.003 (AdamW at 0.02 or 0.01 leaves a
 * width-32 resnet teacher at chance on phantoms), `--size` to 28 and `--conflict` to 0.5 (what the demo uses).
 *
 *   node --conditions=lorkd-source --import tsx scripts/bench/method.ts [--regions 4] [--size 8]
 *        [--train 400] [--test 250] [--student-width 2] [--teacher-width 8] [--depth 1] [--rank 2]
 *        [--teacher-steps 200] [--student-steps 300] [--batch 32] [--lr 0.02|0.003] [--seeds 1,2,3]
 *        [--backend auto|native|wasm|cpu] [--json] [--data gratings|phantoms] [--conflict 0.7|0.5]
 */
import { parseArgs } from 'node:util';
import { type BackendPreference, selectBackend } from '@lorkd/compute';
import { generatePhantoms, type Split } from '@lorkd/data';
import { type EvalResult, type MethodCheckData, type MethodCheckResult, runMethodCheck } from '@lorkd/model';

const { values } = parseArgs({
  options: {
    regions: { type: 'string', default: '4' },
    size: { type: 'string' },
    train: { type: 'string', default: '400' },
    test: { type: 'string', default: '250' },
    'student-width': { type: 'string', default: '2' },
    'teacher-width': { type: 'string', default: '8' },
    depth: { type: 'string', default: '1' },
    rank: { type: 'string', default: '2' },
    alpha: { type: 'string', default: '4' },
    'teacher-steps': { type: 'string', default: '200' },
    'student-steps': { type: 'string', default: '300' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string' },
    beta: { type: 'string', default: '1' },
    temperature: { type: 'string', default: '2' },
    seeds: { type: 'string', default: '1,2,3' },
    backend: { type: 'string', default: 'wasm' },
    json: { type: 'boolean', default: false },
    data: { type: 'string', default: 'gratings' },
    conflict: { type: 'string' },
  },
});
if (values.data !== 'gratings' && values.data !== 'phantoms') {
  console.error(`--data must be gratings or phantoms, got ${values.data}`);
  process.exit(2);
}
// defaults that depend on the data: the gratings check is tiny (8x8), phantoms need a gentler lr
const phantoms = values.data === 'phantoms';
values.size ??= phantoms ? '28' : '8';
values.lr ??= phantoms ? '0.003' : '0.02';
values.conflict ??= phantoms ? '0.5' : '0.7';
/** `--regions` as a count, or (phantoms only) a comma-separated list of anatomy names. */
const regionArg = String(values.regions);
const regionNames = /^\d+$/.test(regionArg) ? undefined : regionArg.split(',').map((s) => s.trim());
if (regionNames && !phantoms) {
  console.error(`--regions must be a number with --data gratings, got ${regionArg}`);
  process.exit(2);
}
const regionCount = regionNames ? regionNames.length : Number(regionArg);
if (!(regionCount > 0)) {
  console.error(`--regions must be a positive number or anatomy names (limbs,pelvis,...), got ${regionArg}`);
  process.exit(2);
}
const n = (k: keyof typeof values) => {
  const v = Number(values[k]);
  if (!(v > 0)) {
    console.error(`--${k} must be a positive number, got ${values[k]}`);
    process.exit(2);
  }
  return v;
};
const decision = await selectBackend({ preference: values.backend as BackendPreference });
const seeds = String(values.seeds)
  .split(',')
  .map((s) => Number(s));

/** The phantom benchmark (train and test splits) in the method check's form. */
function phantomData(seed: number): MethodCheckData {
  const size = n('size');
  if (size !== 28 && size !== 64 && size !== 128) {
    console.error(`--size must be 28, 64 or 128 with --data phantoms, got ${size}`);
    process.exit(2);
  }
  const conflict = Number(values.conflict);
  if (!(conflict >= 0 && conflict <= 1)) {
    console.error(`--conflict must be in [0, 1], got ${values.conflict}`);
    process.exit(2);
  }
  const d = generatePhantoms({
    regions: regionNames ?? regionCount,
    seed,
    imageSize: size,
    trainPerRegion: n('train'),
    valPerRegion: 0,
    testPerRegion: n('test'),
    conflict,
    masks: false,
  });
  const batch = (s: Split) => ({ x: s.images, labels: s.labels, regions: s.regions });
  return {
    train: batch(d.train),
    test: batch(d.test),
    inputShape: [size, size, 1],
    regions: d.regions.map((r) => ({ name: r.name, numClasses: r.labels.length })),
  };
}

const results: (MethodCheckResult & { seed: number; seconds: number })[] = [];
for (const seed of seeds) {
  const t0 = performance.now();
  const r = runMethodCheck({
    ...(values.data === 'phantoms' ? { data: phantomData(seed) } : {}),
    regions: regionCount,
    size: n('size'),
    trainPerRegion: n('train'),
    testPerRegion: n('test'),
    studentWidth: n('student-width'),
    teacherWidth: n('teacher-width'),
    depth: n('depth'),
    rank: n('rank'),
    alpha: n('alpha'),
    teacherSteps: n('teacher-steps'),
    studentSteps: n('student-steps'),
    batchSize: n('batch'),
    lr: n('lr'),
    beta: n('beta'),
    temperature: n('temperature'),
    seed,
  });
  results.push({ ...r, seed, seconds: (performance.now() - t0) / 1000 });
  if (!values.json) console.error(`seed ${seed} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
if (values.json) {
  console.log(JSON.stringify({ backend: decision.tier, args: values, results }));
} else {
  const pct = (e: EvalResult, t: number) => `${((e.regions[t]?.accuracy ?? 0) * 100).toFixed(1)}`;
  console.log(`backend ${decision.tier}; args ${JSON.stringify(values)}`);
  for (const r of results) {
    const names = r.lorkd.regions.map((x) => x.name);
    console.log(`\nseed ${r.seed} (${r.seconds.toFixed(0)} s), test accuracy %:\n`);
    console.log(`| model | params | ${names.join(' | ')} | mean |`);
    console.log(`|---|---:|${names.map(() => '---:').join('|')}|---:|`);
    const row = (label: string, params: string, e: EvalResult) =>
      console.log(
        `| ${label} | ${params} | ${names.map((_, t) => pct(e, t)).join(' | ')} | ${(e.meanAccuracy * 100).toFixed(1)} |`,
      );
    row('teacher', `${r.params.teacher}`, r.teacher);
    row('MTL-KD student', `${r.params.mtlKd}`, r.mtlKd);
    row(
      'LoRKD student (EKS)',
      `${r.params.lorkdTotal} (backbone ${r.params.lorkdBackbone} + ${r.params.expertsPerRegion}/region experts + heads)`,
      r.lorkd,
    );
    row('folded experts', `${r.params.foldedExpert} each`, r.folded);
    console.log(`\nmax |folded − student| logit: ${r.foldedMaxAbsDiff.toExponential(2)}`);
    console.log(
      `forward FLOPs/sample: teacher ${r.flops.teacher}, folded expert ${r.flops.foldedExpert} (+${r.flops.expertPath} for the expert path while training)`,
    );
  }
  const mean = (f: (r: MethodCheckResult) => number) => results.reduce((s, r) => s + f(r), 0) / results.length;
  console.log(
    `\nmean over ${results.length} seeds: teacher ${(mean((r) => r.teacher.meanAccuracy) * 100).toFixed(1)}, MTL-KD ${(mean((r) => r.mtlKd.meanAccuracy) * 100).toFixed(1)}, LoRKD ${(mean((r) => r.lorkd.meanAccuracy) * 100).toFixed(1)}, folded ${(mean((r) => r.folded.meanAccuracy) * 100).toFixed(1)}`,
  );
}
