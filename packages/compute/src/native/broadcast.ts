import { broadcast_util } from '@tensorflow/tfjs-core';

/**
 * The addon's broadcast layout for `a op b`: the output shape, and `dims` = [rank, shape x6, a strides x6,
 * b strides x6] in elements (0 along broadcast dims), with size-1 dims dropped and mergeable dims collapsed.
 * Null when the shapes do not broadcast (the stock kernel then reports it) or need more than 6 dims.
 */
export function broadcastPlan(aShape: number[], bShape: number[]): { outShape: number[]; dims: Int32Array } | null {
  let outShape: number[];
  try {
    outShape = broadcast_util.assertAndGetBroadcastShape(aShape, bShape);
  } catch {
    return null;
  }
  const rank = outShape.length;
  const strides = (shape: number[]): number[] => {
    const padded = [...new Array<number>(rank - shape.length).fill(1), ...shape];
    const out = new Array<number>(rank).fill(0);
    let s = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const size = padded[d] as number;
      out[d] = size === 1 ? 0 : s;
      s *= size;
    }
    return out;
  };
  const as = strides(aShape);
  const bs = strides(bShape);
  const groups: { n: number; a: number; b: number }[] = [];
  for (let d = 0; d < rank; d++) {
    const n = outShape[d] as number;
    if (n === 1) continue;
    const a = as[d] as number;
    const b = bs[d] as number;
    const last = groups[groups.length - 1];
    const mergeable = (prev: number, cur: number) => (prev === 0 && cur === 0) || (cur !== 0 && prev === cur * n);
    if (last !== undefined && mergeable(last.a, a) && mergeable(last.b, b)) {
      last.n *= n;
      last.a = a;
      last.b = b;
    } else {
      groups.push({ n, a, b });
    }
  }
  if (groups.length === 0) groups.push({ n: 1, a: 0, b: 0 });
  if (groups.length > 6) return null;
  const dims = new Int32Array(19).fill(1);
  dims[0] = groups.length;
  groups.forEach((g, i) => {
    dims[1 + i] = g.n;
    dims[7 + i] = g.a;
    dims[13 + i] = g.b;
  });
  return { outShape, dims };
}
