import type { Logger } from '@lorkd/contracts';
import { silentLogger } from '@lorkd/contracts';
import { io } from '@tensorflow/tfjs-core';
import { createObjectStore, parseStorageUrl } from './create-object-store.js';
import { StorageError } from './errors.js';
import type { ObjectStore } from './object-store.js';
import type { S3OptionsInput } from './s3-store.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface TfjsIOOptions {
  readonly logger?: Logger;
  /** Settings for `s3://` URLs (unset fields come from the standard AWS chain). */
  readonly s3?: S3OptionsInput;
}

/** Splits a model URL into the store root and the model's directory key. */
function locate(url: string): { storeUrl: string; dir: string } {
  const trimmed = url.replace(/\/model\.json$/, '').replace(/\/+$/, '');
  const location = parseStorageUrl(trimmed);
  if (location.kind === 's3') {
    if (location.prefix === '')
      throw new StorageError(`model URL ${url} names a bucket, not a model directory: write s3://BUCKET/DIR`, {
        fields: { url },
      });
    return { storeUrl: `s3://${location.bucket}`, dir: location.prefix };
  }
  const cut = location.path.lastIndexOf('/');
  if (cut <= 0) throw new StorageError(`model URL ${url} must name a directory below /`, { fields: { url } });
  return { storeUrl: `file://${location.path.slice(0, cut)}`, dir: location.path.slice(cut + 1) };
}

/**
 * A tfjs IOHandler that saves/loads the standard tfjs layers format (`DIR/model.json` +
 * `DIR/weights.bin`) on `s3://bucket/DIR` or `file:///abs/DIR`. weights.bin is written first and
 * model.json last, each atomically, so a reader never sees a model.json without its weights.
 */
export function storageIOHandler(url: string, options: TfjsIOOptions = {}): io.IOHandler {
  const logger = options.logger ?? silentLogger;
  const withStore = async <T>(fn: (store: ObjectStore, dir: string) => Promise<T>): Promise<T> => {
    const { storeUrl, dir } = locate(url); // here, not above: a bad URL is reported by save/load, not by routing
    const store = await createObjectStore(storeUrl, { logger, ...(options.s3 ? { s3: options.s3 } : {}) });
    try {
      return await fn(store, dir);
    } finally {
      await store.close();
    }
  };
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new StorageError('saving a binary (graph) model topology is not supported; save a layers model', {
          fields: { url },
        });
      const weights = new Uint8Array(
        artifacts.weightData ? io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0),
      );
      const modelJson: io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? 'lorkd',
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.signature ? { signature: artifacts.signature } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
        ...(artifacts.modelInitializer ? { modelInitializer: artifacts.modelInitializer } : {}),
        ...(artifacts.initializerSignature ? { initializerSignature: artifacts.initializerSignature } : {}),
      };
      const json = encoder.encode(JSON.stringify(modelJson));
      await withStore(async (store, dir) => {
        await store.put(`${dir}/weights.bin`, weights, { contentType: 'application/octet-stream' });
        await store.put(`${dir}/model.json`, json, { contentType: 'application/json' });
      });
      logger.info('model saved', { url, weightBytes: weights.length });
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: encoder.encode(JSON.stringify(artifacts.modelTopology)).length,
          weightSpecsBytes: encoder.encode(JSON.stringify(artifacts.weightSpecs ?? [])).length,
          weightDataBytes: weights.length,
        },
      };
    },
    async load(): Promise<io.ModelArtifacts> {
      return await withStore(async (store, dir) => {
        const got = await store.get(`${dir}/model.json`);
        if (!got)
          throw new StorageError(`no model at ${url}: ${store.url}/${dir}/model.json does not exist`, {
            fields: { url },
          });
        let modelJson: io.ModelJSON;
        try {
          modelJson = JSON.parse(decoder.decode(got.body)) as io.ModelJSON;
        } catch (error) {
          throw new StorageError(`${url}/model.json is not JSON`, { fields: { url }, cause: error });
        }
        return await io.getModelArtifactsForJSON(modelJson, async (manifest) => {
          const buffers: ArrayBuffer[] = [];
          for (const group of manifest)
            for (const path of group.paths) {
              if (path.includes('..') || path.startsWith('/'))
                throw new StorageError(`model.json at ${url} names an unsafe weights path ${path}`, {
                  fields: { url, path },
                });
              const info = await store.head(`${dir}/${path}`);
              if (!info) throw new StorageError(`${url}: weights file ${path} is missing`, { fields: { url, path } });
              const bytes = new Uint8Array(info.size);
              await store.getInto(`${dir}/${path}`, bytes);
              buffers.push(bytes.buffer);
            }
          return [io.getWeightSpecs(manifest), io.CompositeArrayBuffer.join(buffers)];
        });
      });
    },
  };
}

let registered: TfjsIOOptions | undefined;

/**
 * Registers tfjs save/load routers for `s3://` (and `file://`, unless another library such as
 * tfjs-node already handles it) so `model.save('s3://b/dir')` and `tf.loadLayersModel('s3://b/dir')`
 * work. Calling it again only replaces the options.
 */
export function registerStorageIO(options: TfjsIOOptions = {}): { file: boolean } {
  const first = registered === undefined;
  registered = options;
  if (!first) return { file: io.getSaveHandlers('file:///lorkd-probe').length > 0 };
  const fileTaken =
    io.getSaveHandlers('file:///lorkd-probe').length > 0 || io.getLoadHandlers('file:///lorkd-probe').length > 0;
  // tfjs routers answer null for URLs they do not handle (its IORouter type omits that).
  const router =
    (scheme: string) =>
    (url: string | string[]): io.IOHandler =>
      (typeof url === 'string' && url.startsWith(scheme)
        ? storageIOHandler(url, registered ?? {})
        : null) as unknown as io.IOHandler;
  io.registerSaveRouter(router('s3://'));
  io.registerLoadRouter(router('s3://'));
  if (!fileTaken) {
    io.registerSaveRouter(router('file://'));
    io.registerLoadRouter(router('file://'));
  }
  return { file: !fileTaken };
}
