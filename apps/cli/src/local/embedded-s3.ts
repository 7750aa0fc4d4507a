import S3rver from 's3rver';
import { freePort } from './free-port.js';

export interface EmbeddedS3 {
  readonly endpoint: string;
  readonly bucket: string;
  /** Environment for lorkd processes using this store through the standard AWS variables. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/** An S3-compatible server (s3rver) on a free loopback port, keeping objects under `dir`. */
export async function startEmbeddedS3(options: { dir: string; bucket?: string }): Promise<EmbeddedS3> {
  const port = await freePort();
  const bucket = options.bucket ?? 'lorkd';
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory: options.dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      // s3rver accepts its well-known development key pair only.
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      LORKD_S3_FORCE_PATH_STYLE: 'true',
      LORKD_S3_CHECKSUMS: 'when_required',
    },
    stop: () => server.close(),
  };
}
