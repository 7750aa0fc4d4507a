import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { type LayersModel, loadLayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { countFlops, countParams } from './counts.js';
import { fold, switchExpert, toLayersModel } from './fold.js';
import { predictLogits, teacherLogits } from './inference.js';
import { buildStudent, buildTeacher, type LorkdModel } from './model.js';
import { randomBatch, randomizeParams, relErr, useCpuBackend } from './test-support.js';

beforeAll(useCpuBackend);

const STANDARD = new Set([
  'InputLayer',
  'Conv2D',
  'Reshape',
  'LayerNormalization',
  'DepthwiseConv2D',
  'ReLU',
  'Add',
  'MaxPooling2D',
  'UpSampling2D',
  'Concatenate',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Dense',
]);

function student(family: 'resnet' | 'unet'): LorkdModel {
  const m = buildStudent({
    family,
    inputShape: [8, 8, 1],
    width: 4,
    depth: 2,
    groupNormGroups: 2,
    regions: [
      { name: 'brain', numClasses: 3, rank: 2 },
      { name: 'thorax', numClasses: 3, rank: 1 },
      { name: 'spine', numClasses: 2, rank: 2 },
    ],
    alpha: 4,
  });
  randomizeParams(m, 21);
  return m;
}

function run(model: LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array).slice();
}

async function saveToMemory(model: LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('nothing saved');
  return saved;
}

describe.each(['resnet', 'unet'] as const)('fold (%s)', (family) => {
  it('gives a plain LayersModel equal to the student on its region, which reloads with loadLayersModel', async () => {
    const m = student(family);
    const shape = [5, ...m.config.inputShape];
    for (let t = 0; t < m.numRegions; t++) {
      const batch = randomBatch(m, [t, t, t, t, t], 30 + t);
      const expected = predictLogits(m, batch.x, batch.regions);
      const folded = fold(m, t);
      expect(relErr(run(folded, batch.x, shape), expected)).toBeLessThan(1e-5);
      const artifacts = await saveToMemory(folded);
      const classes = (artifacts.modelTopology as { config: { layers: { class_name: string }[] } }).config.layers.map(
        (l) => l.class_name,
      );
      expect(classes.filter((c) => !STANDARD.has(c))).toEqual([]);
      const reloaded = await loadLayersModel(tf.io.fromMemory(artifacts));
      expect(relErr(run(reloaded, batch.x, shape), expected)).toBeLessThan(1e-5);
      folded.dispose();
      reloaded.dispose();
    }
    const p = countParams(m);
    const folded = fold(m, 'spine');
    expect(folded.countParams()).toBe(p.foldedExpert.spine);
    expect(countFlops(m).forwardPerSample.spine).toBeGreaterThan(0);
    folded.dispose();
    m.dispose();
  });
});

describe('fold', () => {
  it('switches an expert in place by delta (subtract one, add another)', () => {
    const m = student('resnet');
    const batch = randomBatch(m, [1, 1, 1], 3);
    const shape = [3, ...m.config.inputShape];
    const folded = fold(m, 'brain');
    switchExpert(folded, m, 'brain', 'thorax');
    expect(relErr(run(folded, batch.x, shape), predictLogits(m, batch.x, batch.regions))).toBeLessThan(1e-5);
    expect(() => switchExpert(folded, m, 'thorax', 'spine')).toThrow(/classes/);
    folded.dispose();
    m.dispose();
  });

  it('exports the shared backbone with every head (teacher format) and names bad regions', () => {
    const m = student('resnet');
    const shared = toLayersModel(m);
    expect(shared.outputs).toHaveLength(3);
    const batch = randomBatch(m, [2, 0, 1, 0], 8);
    const sharedLogits = predictLogits(m, batch.x, batch.regions, { strategy: { region: -1 } });
    expect(relErr(teacherLogits(shared, batch.x, batch.regions, { batchSize: 3 }), sharedLogits)).toBeLessThan(1e-5);
    const teacher = buildTeacher({ ...m.config, width: 6 });
    const exported = toLayersModel(teacher);
    expect(
      relErr(teacherLogits(exported, batch.x, batch.regions), teacherLogits(teacher, batch.x, batch.regions)),
    ).toBeLessThan(1e-5);
    exported.dispose();
    teacher.dispose();
    expect(() => fold(m, 'liver')).toThrow(/unknown region 'liver'/);
    expect(() => fold(m, 7)).toThrow(/out of range/);
    shared.dispose();
    m.dispose();
  });

  it('loads in a separate program that has only @tensorflow/tfjs', async () => {
    const m = student('unet');
    const batch = randomBatch(m, [2, 2], 4);
    const folded = fold(m, 2);
    const a = await saveToMemory(folded);
    const payload = JSON.stringify({
      topology: a.modelTopology,
      specs: a.weightSpecs,
      data: Buffer.from(a.weightData as ArrayBuffer).toString('base64'),
      x: Array.from(batch.x),
      shape: [2, ...m.config.inputShape],
    });
    const script = `
      const tf = require('@tensorflow/tfjs');
      tf.env().set('PROD', true);
      let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', async () => {
        const p = JSON.parse(s);
        const buf = Buffer.from(p.data, 'base64');
        const data = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
        const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: p.topology, weightSpecs: p.specs, weightData: data }));
        const y = model.predict(tf.tensor(p.x, p.shape));
        process.stdout.write(JSON.stringify(Array.from(y.dataSync())));
      });`;
    const child = spawnSync(process.execPath, ['-e', script], {
      input: payload,
      encoding: 'utf8',
      cwd: import.meta.dirname,
    });
    expect(child.stderr).toBe('');
    const out = Float32Array.from(JSON.parse(child.stdout) as number[]);
    expect(relErr(out, predictLogits(m, batch.x, batch.regions))).toBeLessThan(1e-5);
    folded.dispose();
    m.dispose();
  });
});
