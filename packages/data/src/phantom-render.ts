import type { AnatomyDef, Feature, Shape, SubjectAnatomy } from './phantom-anatomy.js';
import { FEATURES } from './phantom-anatomy.js';
import { Rng } from './rng.js';

/** Everything that varies from image to image of one subject. */
export interface FindingParams {
  label: number;
  /** Feature levels in [0,1]. */
  levels: Record<Feature, number>;
  gain: number;
  offset: number;
  /** MR: the subject's contrast-flipped weighting. */
  flipped: boolean;
}

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Draws the finding class and feature levels of one image (see docs/data.md for the conflict model). */
export function drawFinding(anat: AnatomyDef, rng: Rng, conflict: number, flipped: boolean): FindingParams {
  const k = anat.classes.length;
  const label = rng.int(k);
  const level = k > 1 ? label / (k - 1) : 0.5;
  const levels = {} as Record<Feature, number>;
  for (const f of FEATURES) {
    if (f === anat.decisive) levels[f] = clamp01((label + anat.overlap * rng.normal()) / Math.max(1, k - 1));
    else if (f === 'contrast') levels[f] = clamp01((1 - conflict) * level + conflict * rng.next());
    else levels[f] = clamp01((1 - conflict) * (f === 'count' ? 0 : 0.5) + conflict * rng.next());
  }
  const intensityIsSignal = anat.decisive === 'contrast';
  const gainSpread = intensityIsSignal ? 0.03 : 0.3 * conflict;
  return {
    label,
    levels,
    gain: 1 + gainSpread * (rng.next() * 2 - 1),
    offset: (intensityIsSignal ? 0.01 : 0.08 * conflict) * (rng.next() * 2 - 1),
    flipped,
  };
}

/** Scratch space for ellipse coverage, reused across calls (the renderer is synchronous). */
let covBuf = new Float32Array(0);
let lxBuf = new Float32Array(0);

interface Box {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/**
 * Coverage of an ellipse with partial-volume edges over its bounding box: `covBuf[i]` for pixel i
 * (row-major, full image indices), a linear ramp over one pixel across the boundary
 * (signed distance / pixel size). Pixels clearly inside or outside skip the square roots.
 */
function coverEllipse(s: Shape, size: number, wantLx: boolean): Box {
  const pix = 2 / size;
  const reach = Math.max(s.rx, s.ry) + pix;
  const box = {
    x0: Math.max(0, Math.floor(((s.cx - reach + 1) / 2) * size)),
    x1: Math.min(size - 1, Math.ceil(((s.cx + reach + 1) / 2) * size)),
    y0: Math.max(0, Math.floor(((s.cy - reach + 1) / 2) * size)),
    y1: Math.min(size - 1, Math.ceil(((s.cy + reach + 1) / 2) * size)),
  };
  const cos = Math.cos(s.angle);
  const sin = Math.sin(s.angle);
  const irx = 1 / s.rx;
  const iry = 1 / s.ry;
  const band = pix / Math.min(s.rx, s.ry);
  const qIn = band < 1 ? (1 - band) * (1 - band) : 0;
  const qOut = (1 + band) * (1 + band);
  const cov = covBuf;
  for (let py = box.y0; py <= box.y1; py++) {
    const y = ((py + 0.5) / size) * 2 - 1 - s.cy;
    for (let px = box.x0; px <= box.x1; px++) {
      const x = ((px + 0.5) / size) * 2 - 1 - s.cx;
      const lx = x * cos + y * sin;
      const ly = -x * sin + y * cos;
      const ax = lx * irx;
      const ay = ly * iry;
      const q = ax * ax + ay * ay;
      const i = py * size + px;
      if (wantLx) lxBuf[i] = lx;
      if (q <= qIn) cov[i] = 1;
      else if (q >= qOut) cov[i] = 0;
      else {
        const rho = Math.sqrt(q);
        const gx = ax * irx;
        const gy = ay * iry;
        const g = Math.sqrt(gx * gx + gy * gy) / rho;
        const c = 0.5 - (rho - 1) / g / pix;
        cov[i] = c <= 0 ? 0 : c >= 1 ? 1 : c;
      }
    }
  }
  return box;
}

const usFields = new Map<number, Float32Array>();

/** The ultrasound fan: depth attenuation inside the sector, 0 outside (cached per image size). */
function usField(size: number): Float32Array {
  const hit = usFields.get(size);
  if (hit) return hit;
  const f = new Float32Array(size * size);
  const apexY = -1.15;
  for (let i = 0; i < f.length; i++) {
    const x = (((i % size) + 0.5) / size) * 2 - 1;
    const y = ((Math.floor(i / size) + 0.5) / size) * 2 - 1;
    const dy = y - apexY;
    const depth = Math.sqrt(x * x + dy * dy);
    f[i] = Math.abs(Math.atan2(x, dy)) > 0.62 || depth > 2.1 ? 0 : Math.exp(-0.25 * depth);
  }
  usFields.set(size, f);
  return f;
}

/** 64k standard normals (fixed by a seed), indexed by random 16-bit numbers: fast deterministic noise. */
const NORMALS = (() => {
  const r = new Rng(0x6e6f726d);
  const t = new Float32Array(65536);
  for (let i = 0; i < t.length; i++) t[i] = r.normal();
  return t;
})();

/** The lesion's 1-3 foci (the count feature), placed along the anatomy's lesion path. */
export function placeFoci(anat: AnatomyDef, subject: SubjectAnatomy, finding: FindingParams, rng: Rng): Shape[] {
  const L = finding.levels;
  // Geometric scales (equal steps in log radius and log axis ratio between adjacent classes): radius 0.1-0.32,
  // axis ratio 1-4. Linear steps made the upper classes of size and elongation much closer than the lower ones.
  const r = 0.1 * 3.2 ** L.size;
  const aspect = 4 ** L.elongation;
  const count = 1 + Math.round(L.count * 2);
  const [fx, fy] = subject.from;
  const [tx, ty] = subject.to;
  const spread = subject.spread;
  const angle = rng.next() * Math.PI;
  const out: Shape[] = [];
  for (let f = 0; f < count; f++) {
    // Foci half a path apart, the group placed by the position level so that none is clamped onto another
    // (overlapping foci would read as one larger or longer lesion and confound size and elongation).
    const along = L.position * (1 - (count - 1) * 0.5) + f * 0.5;
    out.push({
      cx: fx + along * (tx - fx) + spread * rng.normal() * 0.5,
      cy: fy + along * (ty - fy) + spread * rng.normal() * 0.5,
      rx: r * Math.sqrt(aspect),
      ry: r / Math.sqrt(aspect),
      angle: angle + 0.3 * rng.normal(),
      tissue: subject.host,
      mode: anat.modality === 'xray' ? 'add' : 'fill',
    });
  }
  return out;
}

/**
 * Renders one 2D image into `out` (uint8, size²) and its exact lesion mask into `mask` (0/1).
 * `buf` is scratch space of size² floats.
 */
export function renderImage(
  anat: AnatomyDef,
  subject: SubjectAnatomy,
  finding: FindingParams,
  foci: readonly Shape[],
  focusScale: readonly number[] | undefined,
  rng: Rng,
  size: number,
  buf: Float32Array,
  out: Uint8Array,
  outOffset: number,
  mask: Uint8Array | undefined,
  maskOffset: number,
): void {
  const n = size * size;
  buf.fill(0);
  const table = finding.flipped && anat.tissuesAlt ? anat.tissuesAlt : anat.tissues;
  if (covBuf.length < n) {
    covBuf = new Float32Array(n);
    lxBuf = new Float32Array(n);
  }
  const cov = covBuf;
  for (const s of subject.shapes) {
    const v = table[s.tissue] ?? 0;
    const b = coverEllipse(s, size, false);
    const add = s.mode === 'add';
    for (let py = b.y0; py <= b.y1; py++) {
      for (let i = py * size + b.x0, e = py * size + b.x1; i <= e; i++) {
        const c = cov[i] as number;
        if (c === 0) continue;
        buf[i] = add ? (buf[i] as number) + v * c : (buf[i] as number) * (1 - c) + v * c;
      }
    }
  }
  // The lesion foci (see placeFoci), each scaled for this slice.
  const L = finding.levels;
  const hostValue = table[subject.host] ?? 0;
  let delta = 0.12 + 0.48 * L.contrast;
  if (finding.flipped && anat.decisive !== 'contrast') delta = -delta;
  const lv = hostValue + delta;
  // Stripes of an absolute amplitude (not relative to the lesion's contrast, which may be a nuisance near 0).
  const amp = 0.45 * L.texture;
  const period = Math.max(4, size / 12) * (2 / size);
  const freq = (2 * Math.PI) / period;
  if (mask) mask.fill(0, maskOffset, maskOffset + n);
  foci.forEach((focus, f) => {
    const k = focusScale?.[f] ?? 1;
    if (k <= 0) return;
    const lesion: Shape = k === 1 ? focus : { ...focus, rx: focus.rx * k, ry: focus.ry * k };
    const lb = coverEllipse(lesion, size, true);
    for (let py = lb.y0; py <= lb.y1; py++) {
      for (let i = py * size + lb.x0, e = py * size + lb.x1; i <= e; i++) {
        const c = cov[i] as number;
        if (c === 0) continue;
        const stripe = amp * Math.sin((lxBuf[i] as number) * freq);
        if (lesion.mode === 'add') buf[i] = (buf[i] as number) + (delta + stripe) * c;
        else buf[i] = (buf[i] as number) * (1 - c) + (lv + stripe) * c;
        if (mask && c >= 0.5) mask[maskOffset + i] = 1;
      }
    }
  });
  // Modality look, nuisance intensity, noise, quantisation.
  const sigma = anat.noise;
  const nrm = () => NORMALS[rng.nextU32() >>> 16] as number;
  const g = finding.gain;
  const o = finding.offset;
  if (anat.modality === 'mr') {
    const bx = 0.15 * (rng.next() * 2 - 1);
    const by = 0.15 * (rng.next() * 2 - 1);
    for (let i = 0; i < n; i++) {
      const x = ((i % size) + 0.5) / size - 0.5;
      const y = (Math.floor(i / size) + 0.5) / size - 0.5;
      const v = (buf[i] ?? 0) * (1 + bx * x + by * y);
      const a = v + sigma * nrm();
      const b = sigma * nrm();
      buf[i] = Math.sqrt(a * a + b * b);
    }
  } else if (anat.modality === 'us') {
    const field = usField(size);
    for (let i = 0; i < n; i++) {
      const att = field[i] as number;
      if (att === 0) {
        buf[i] = 0;
        continue;
      }
      // Speckle: the magnitude of a complex Gaussian (Rayleigh), mean ~1, standard deviation 0.1.
      const a = nrm();
      const b = nrm();
      const speckle = 0.8 + 0.16 * Math.sqrt(a * a + b * b);
      buf[i] = (buf[i] as number) * speckle * att + sigma * nrm();
    }
  } else if (anat.modality === 'xray') {
    for (let i = 0; i < n; i++) buf[i] = 1 - Math.exp(-1.6 * (buf[i] ?? 0)) + sigma * nrm();
  } else {
    for (let i = 0; i < n; i++) buf[i] = (buf[i] ?? 0) + sigma * nrm();
  }
  for (let i = 0; i < n; i++) {
    const v = (buf[i] ?? 0) * g + o;
    out[outOffset + i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
  }
}

export { Rng };
