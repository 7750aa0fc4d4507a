import type { NpyDtype } from './npy.js';
import { NpzReader } from './npz.js';

export interface InspectedMember {
  readonly key: string;
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly compressedBytes: number;
  readonly compressed: boolean;
  /** For `*_labels` and `*_regions` members: how often each value occurs. */
  readonly labelCounts?: Readonly<Record<string, number>>;
}

export interface InspectResult {
  readonly file: string;
  readonly members: readonly InspectedMember[];
}

/** Keys, shapes, dtypes and sizes of an .npz; label counts for label/region arrays (their data is read). */
export async function inspectNpz(input: string | { name: string; bytes: Uint8Array }): Promise<InspectResult> {
  const reader = await NpzReader.open(input);
  try {
    const members: InspectedMember[] = [];
    for (const key of reader.keys()) {
      const info = await reader.info(key);
      let labelCounts: Record<string, number> | undefined;
      if (/(^|_)(labels|regions)$/.test(key)) {
        const a = await reader.read(key);
        const counts = new Map<string, number>();
        for (let i = 0; i < a.data.length; i++) {
          const k = String(a.data[i]);
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        labelCounts = Object.fromEntries([...counts.entries()].sort((x, y) => Number(x[0]) - Number(y[0])));
      }
      members.push({
        key,
        dtype: info.dtype,
        shape: info.shape,
        bytes: info.bytes,
        compressedBytes: info.compressedBytes,
        compressed: info.compressed,
        ...(labelCounts ? { labelCounts } : {}),
      });
    }
    return { file: reader.file, members };
  } finally {
    await reader.close();
  }
}
