import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, s3OptionsOf, startBackend } from '../test/helpers.js';
import { registerStorageIO } from './tfjs-io.js';

function tinyModel(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ inputShape: [4], units: 3, activation: 'relu' }));
  model.add(tfl.layers.dense({ units: 2 }));
  return model;
}

describe.each(['file', 's3'] as const)('tfjs model IO on %s', (kind) => {
  let backend: Backend;
  beforeAll(async () => {
    tf.env().set('IS_TEST', true); // silences tfjs's "install tfjs-node" console hint
    await tf.setBackend('cpu');
    backend = await startBackend(kind);
    registerStorageIO(backend.s3 ? { s3: s3OptionsOf(backend.s3) } : {});
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('model.save(url) then tf.loadLayersModel(url) give the same model, in the standard layout', async () => {
    const model = tinyModel();
    const url = `${backend.url}/runs/r1/experts/liver`;
    const result = await model.save(url);
    expect(result.modelArtifactsInfo.weightDataBytes).toBe((4 * 3 + 3 + 3 * 2 + 2) * 4);
    const loaded = await tfl.loadLayersModel(url);
    const x = tf.tensor2d([[1, -2, 3, 0.5]]);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    for (const [i, w] of model.getWeights().entries())
      expect(Array.from(await loaded.getWeights()[i]!.data())).toEqual(Array.from(await w.data()));
    tf.dispose([x, a, b]);
    const store = await backend.open();
    try {
      const keys = (await store.list('runs/r1/experts/liver/')).map((o) => o.key);
      expect(keys).toEqual(['runs/r1/experts/liver/model.json', 'runs/r1/experts/liver/weights.bin']);
      const json = JSON.parse(new TextDecoder().decode((await store.get('runs/r1/experts/liver/model.json'))?.body));
      expect(json.format).toBe('layers-model');
      expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    } finally {
      await store.close();
    }
    // A URL naming model.json itself works too.
    expect((await tfl.loadLayersModel(`${url}/model.json`)).layers).toHaveLength(2);
  });

  it('explains a missing model', async () => {
    await expect(tfl.loadLayersModel(`${backend.url}/runs/none/experts/x`)).rejects.toThrow(/no model at/);
  });
});
