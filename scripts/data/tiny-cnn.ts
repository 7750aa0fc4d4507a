// A small CNN in plain TypeScript for the phantom calibration (scripts/data/calibrate.ts --engine tiny):
// 3x3 convs (stride 2 or 1, same padding) + ReLU on inputs shifted to [-0.5,0.5], global average and max
// pooling (concatenated), one linear head per region,
// softmax cross-entropy, Adam. Per-sample loops over Float32Arrays, no tfjs: on this shared 2-core box it
// trains ~10x faster than the tfjs models, which is what makes a 7-region calibration affordable.
import { Rng } from '@lorkd/data';

export interface ConvSpec {
  readonly channels: number;
  readonly stride: 1 | 2;
}

interface Conv {
  cin: number;
  cout: number;
  stride: number;
  hin: number;
  hout: number;
  w: Float32Array; // [3,3,cin,cout]
  b: Float32Array;
}

export class TinyCnn {
  readonly params: Float32Array;
  readonly convs: Conv[] = [];
  readonly heads: { w: Float32Array; b: Float32Array; k: number }[] = [];
  /** Length of the conv (shared backbone) part at the start of `params`. */
  readonly backboneSize: number;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(
    readonly size: number,
    specs: readonly ConvSpec[],
    classes: readonly number[],
    seed: number,
  ) {
    let total = 0;
    let cin = 1;
    let h = size;
    const layout: { cin: number; cout: number; stride: number; hin: number; hout: number }[] = [];
    for (const s of specs) {
      const hout = Math.ceil(h / s.stride);
      layout.push({ cin, cout: s.channels, stride: s.stride, hin: h, hout });
      total += 9 * cin * s.channels + s.channels;
      cin = s.channels;
      h = hout;
    }
    const backbone = total;
    const feats = 2 * cin; // global average and global max of the last conv
    for (const k of classes) total += feats * k + k;
    this.params = new Float32Array(total);
    this.m = new Float32Array(total);
    this.v = new Float32Array(total);
    this.backboneSize = backbone;
    const rng = new Rng(seed);
    let o = 0;
    for (const l of layout) {
      const w = this.params.subarray(o, o + 9 * l.cin * l.cout);
      o += w.length;
      const b = this.params.subarray(o, o + l.cout);
      o += b.length;
      const std = Math.sqrt(2 / (9 * l.cin));
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
      this.convs.push({ ...l, w, b });
    }
    for (const k of classes) {
      const w = this.params.subarray(o, o + feats * k);
      o += w.length;
      const b = this.params.subarray(o, o + k);
      o += k;
      const std = Math.sqrt(1 / feats);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal() * std;
      this.heads.push({ w, b, k });
    }
  }

  private forwardConv(c: Conv, inp: Float32Array, out: Float32Array): void {
    const { cin, cout, stride, hin, hout, w, b } = c;
    for (let oy = 0; oy < hout; oy++) {
      for (let ox = 0; ox < hout; ox++) {
        const o = (oy * hout + ox) * cout;
        for (let co = 0; co < cout; co++) out[o + co] = b[co] as number;
        for (let ky = 0; ky < 3; ky++) {
          const iy = oy * stride + ky - 1;
          if (iy < 0 || iy >= hin) continue;
          for (let kx = 0; kx < 3; kx++) {
            const ix = ox * stride + kx - 1;
            if (ix < 0 || ix >= hin) continue;
            const ib = (iy * hin + ix) * cin;
            const wb = (ky * 3 + kx) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const v = inp[ib + ci] as number;
              if (v === 0) continue;
              const wr = wb + ci * cout;
              for (let co = 0; co < cout; co++) out[o + co] = (out[o + co] as number) + v * (w[wr + co] as number);
            }
          }
        }
        for (let co = 0; co < cout; co++) if ((out[o + co] as number) < 0) out[o + co] = 0;
      }
    }
  }

  /** dOut is the gradient w.r.t. the post-ReLU output; it is masked in place by the ReLU. */
  private backwardConv(
    c: Conv,
    gw: Float32Array,
    gb: Float32Array,
    inp: Float32Array,
    out: Float32Array,
    dOut: Float32Array,
    dIn: Float32Array | undefined,
  ): void {
    const { cin, cout, stride, hin, hout, w } = c;
    if (dIn) dIn.fill(0);
    for (let oy = 0; oy < hout; oy++) {
      for (let ox = 0; ox < hout; ox++) {
        const o = (oy * hout + ox) * cout;
        let any = false;
        for (let co = 0; co < cout; co++) {
          if ((out[o + co] as number) <= 0) dOut[o + co] = 0;
          else if (dOut[o + co] !== 0) any = true;
        }
        if (!any) continue;
        for (let co = 0; co < cout; co++) gb[co] = (gb[co] as number) + (dOut[o + co] as number);
        for (let ky = 0; ky < 3; ky++) {
          const iy = oy * stride + ky - 1;
          if (iy < 0 || iy >= hin) continue;
          for (let kx = 0; kx < 3; kx++) {
            const ix = ox * stride + kx - 1;
            if (ix < 0 || ix >= hin) continue;
            const ib = (iy * hin + ix) * cin;
            const wb = (ky * 3 + kx) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const v = inp[ib + ci] as number;
              const wr = wb + ci * cout;
              let acc = 0;
              for (let co = 0; co < cout; co++) {
                const d = dOut[o + co] as number;
                gw[wr + co] = (gw[wr + co] as number) + v * d;
                acc += (w[wr + co] as number) * d;
              }
              if (dIn) dIn[ib + ci] = (dIn[ib + ci] as number) + acc;
            }
          }
        }
      }
    }
  }

  private acts(): Float32Array[] {
    return [
      new Float32Array(this.size * this.size),
      ...this.convs.map((c) => new Float32Array(c.hout * c.hout * c.cout)),
    ];
  }

  /** Pooled features of one image: [average of each channel, max of each channel]; `argmax` gets the max positions. */
  private features(img: Float32Array, a: Float32Array[], argmax?: Int32Array): Float32Array {
    const a0 = a[0] as Float32Array;
    for (let i = 0; i < img.length; i++) a0[i] = (img[i] as number) - 0.5;
    this.convs.forEach((c, i) => {
      this.forwardConv(c, a[i] as Float32Array, a[i + 1] as Float32Array);
    });
    const last = this.convs[this.convs.length - 1] as Conv;
    const top = a[a.length - 1] as Float32Array;
    const C = last.cout;
    const f = new Float32Array(2 * C);
    const P = last.hout * last.hout;
    for (let p = 0; p < P; p++) {
      for (let c = 0; c < C; c++) {
        const v = top[p * C + c] as number;
        f[c] = (f[c] as number) + v / P;
        if (p === 0 || v > (f[C + c] as number)) {
          f[C + c] = v;
          if (argmax) argmax[c] = p;
        }
      }
    }
    return f;
  }

  logits(img: Float32Array, head: number): Float32Array {
    const f = this.features(img, this.acts());
    const h = this.heads[head] as { w: Float32Array; b: Float32Array; k: number };
    const z = Float32Array.from(h.b);
    for (let c = 0; c < f.length; c++)
      for (let k = 0; k < h.k; k++) z[k] = (z[k] as number) + (f[c] as number) * (h.w[c * h.k + k] as number);
    return z;
  }

  /** Mean cross-entropy gradient over a batch (into a fresh flat vector laid out like `params`) and the mean loss. */
  gradient(x: Float32Array, labels: Int32Array, heads: Int32Array): { grad: Float32Array; loss: number } {
    const grad = new Float32Array(this.params.length);
    const gv = (arr: Float32Array) =>
      grad.subarray(
        arr.byteOffset / 4 - this.params.byteOffset / 4,
        arr.byteOffset / 4 - this.params.byteOffset / 4 + arr.length,
      );
    const a = this.acts();
    const d = this.acts();
    const px = this.size * this.size;
    const n = labels.length;
    let loss = 0;
    const last = this.convs[this.convs.length - 1] as Conv;
    const P = last.hout * last.hout;
    const argmax = new Int32Array(last.cout);
    for (let s = 0; s < n; s++) {
      const f = this.features(x.subarray(s * px, (s + 1) * px), a, argmax);
      const h = this.heads[heads[s] as number] as { w: Float32Array; b: Float32Array; k: number };
      const z = Float32Array.from(h.b);
      for (let c = 0; c < f.length; c++)
        for (let k = 0; k < h.k; k++) z[k] = (z[k] as number) + (f[c] as number) * (h.w[c * h.k + k] as number);
      let mx = -Infinity;
      for (const v of z) mx = Math.max(mx, v);
      let se = 0;
      for (let k = 0; k < h.k; k++) se += Math.exp((z[k] as number) - mx);
      const y = labels[s] as number;
      loss += -((z[y] as number) - mx - Math.log(se));
      const dz = new Float32Array(h.k);
      for (let k = 0; k < h.k; k++) dz[k] = (Math.exp((z[k] as number) - mx) / se - (k === y ? 1 : 0)) / n;
      const ghw = gv(h.w);
      const ghb = gv(h.b);
      const df = new Float32Array(f.length);
      for (let c = 0; c < f.length; c++) {
        for (let k = 0; k < h.k; k++) {
          ghw[c * h.k + k] = (ghw[c * h.k + k] as number) + (f[c] as number) * (dz[k] as number);
          df[c] = (df[c] as number) + (h.w[c * h.k + k] as number) * (dz[k] as number);
        }
      }
      for (let k = 0; k < h.k; k++) ghb[k] = (ghb[k] as number) + (dz[k] as number);
      const dTop = d[d.length - 1] as Float32Array;
      const C = last.cout;
      for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) dTop[p * C + c] = (df[c] as number) / P;
      for (let c = 0; c < C; c++) {
        const at = (argmax[c] as number) * C + c;
        dTop[at] = (dTop[at] as number) + (df[C + c] as number);
      }
      for (let i = this.convs.length - 1; i >= 0; i--) {
        const c = this.convs[i] as Conv;
        this.backwardConv(
          c,
          gv(c.w),
          gv(c.b),
          a[i] as Float32Array,
          a[i + 1] as Float32Array,
          d[i + 1] as Float32Array,
          i > 0 ? d[i] : undefined,
        );
      }
    }
    return { grad, loss: loss / n };
  }

  /** One Adam step (decoupled weight decay on all weights). */
  adam(grad: Float32Array, lr: number, wd = 1e-4, b1 = 0.9, b2 = 0.999, eps = 1e-8): void {
    this.t++;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const p = this.params;
    for (let i = 0; i < p.length; i++) {
      const g = grad[i] as number;
      const m = b1 * (this.m[i] as number) + (1 - b1) * g;
      const v = b2 * (this.v[i] as number) + (1 - b2) * g * g;
      this.m[i] = m;
      this.v[i] = v;
      p[i] = (p[i] as number) - lr * (m / c1 / (Math.sqrt(v / c2) + eps) + wd * (p[i] as number));
    }
  }
}
