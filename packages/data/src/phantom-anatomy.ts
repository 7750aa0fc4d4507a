import type { Rng } from './rng.js';

export type Modality = 'ct' | 'mr' | 'xray' | 'us';
/** Lesion properties a finding class can be defined by. */
export type Feature = 'contrast' | 'size' | 'elongation' | 'texture' | 'count' | 'position';
export const FEATURES: readonly Feature[] = ['contrast', 'size', 'elongation', 'texture', 'count', 'position'];

/** A filled ellipse in normalised coordinates ([-1,1]², y down). `fill` paints over, `add` accumulates (projection). */
export interface Shape {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  angle: number;
  /** Tissue index into the anatomy's intensity tables. */
  tissue: number;
  mode: 'fill' | 'add';
}

export interface SubjectAnatomy {
  shapes: Shape[];
  /** The lesion's position feature moves its centre from `from` to `to`. */
  from: [number, number];
  to: [number, number];
  /** Random placement spread perpendicular/along the path when position is a nuisance. */
  spread: number;
  /** Tissue index the lesion sits in (its contrast is relative to this tissue). */
  host: number;
}

export interface AnatomyDef {
  readonly name: string;
  readonly modality: Modality;
  readonly classes: readonly string[];
  /** The feature whose level decides the finding class. */
  readonly decisive: Feature;
  /** Intensities per tissue; MR anatomies have a second (contrast-flipped) table. */
  readonly tissues: readonly number[];
  readonly tissuesAlt?: readonly number[];
  /** Within-class spread of the decisive feature, in units of the spacing between class levels. */
  readonly overlap: number;
  readonly noise: number;
  subject(rng: Rng): SubjectAnatomy;
}

const j = (rng: Rng, s: number) => (rng.next() * 2 - 1) * s;
const fill = (cx: number, cy: number, rx: number, ry: number, tissue: number, angle = 0): Shape => ({
  cx,
  cy,
  rx,
  ry,
  angle,
  tissue,
  mode: 'fill',
});
const add = (cx: number, cy: number, rx: number, ry: number, tissue: number, angle = 0): Shape => ({
  ...fill(cx, cy, rx, ry, tissue, angle),
  mode: 'add',
});

export const ANATOMIES: readonly AnatomyDef[] = [
  {
    name: 'brain',
    modality: 'mr',
    classes: ['non-enhancing', 'faint-enhancing', 'enhancing', 'hemorrhagic'],
    decisive: 'contrast',
    // scalp, skull, grey matter, white matter, CSF. White matter (the host) leaves headroom for the brightest
    // lesion (host + 0.6 <= 0.9), so that the four contrast classes are not clipped into one.
    tissues: [0.55, 0.08, 0.22, 0.3, 0.1],
    tissuesAlt: [0.4, 0.08, 0.36, 0.26, 0.8],
    overlap: 0.3,
    noise: 0.035,
    subject(rng) {
      const s = 1 + j(rng, 0.06);
      const tilt = j(rng, 0.12);
      const v = j(rng, 0.04);
      return {
        shapes: [
          fill(0, 0, 0.86 * s, 0.96 * s, 0, tilt),
          fill(0, 0, 0.8 * s, 0.9 * s, 1, tilt),
          fill(0, 0, 0.74 * s, 0.84 * s, 2, tilt),
          fill(0, 0.02, 0.56 * s, 0.68 * s, 3, tilt),
          fill(-0.12 + v, -0.05, 0.07, 0.22 * s, 4, tilt + 0.25),
          fill(0.12 + v, -0.05, 0.07, 0.22 * s, 4, tilt - 0.25),
        ],
        from: [-0.35 * s, -0.4 * s],
        to: [0.35 * s, 0.4 * s],
        spread: 0.12,
        host: 3,
      };
    },
  },
  {
    name: 'head-neck',
    modality: 'ct',
    classes: ['round-node', 'oval-node', 'infiltrative'],
    decisive: 'elongation',
    // soft tissue, fat, air, bone, canal, thyroid
    tissues: [0.48, 0.3, 0.02, 0.95, 0.42, 0.62],
    overlap: 0.3,
    noise: 0.04,
    subject(rng) {
      const s = 1 + j(rng, 0.07);
      return {
        shapes: [
          fill(0, 0, 0.86 * s, 0.7 * s, 1),
          fill(0, 0, 0.78 * s, 0.62 * s, 0),
          fill(j(rng, 0.03), -0.2, 0.12, 0.1, 2),
          fill(-0.22, -0.12, 0.12, 0.18, 5, 0.3),
          fill(0.22, -0.12, 0.12, 0.18, 5, -0.3),
          fill(0, 0.36, 0.22, 0.18, 3),
          fill(0, 0.38, 0.08, 0.07, 4),
        ],
        from: [-0.45 * s, 0.1],
        to: [0.45 * s, 0.1],
        spread: 0.1,
        host: 0,
      };
    },
  },
  {
    name: 'thorax',
    modality: 'xray',
    classes: ['micronodule', 'small-nodule', 'nodule', 'large-nodule', 'mass'],
    decisive: 'size',
    // body, lung (negative: less attenuation), heart, spine, rib
    tissues: [0.42, -0.28, 0.22, 0.3, 0.1],
    overlap: 0.3,
    noise: 0.025,
    subject(rng) {
      const s = 1 + j(rng, 0.06);
      const shapes: Shape[] = [
        add(0, 0.05, 0.92 * s, 0.9, 0),
        add(-0.42 * s, -0.05, 0.32 * s, 0.64, 1),
        add(0.42 * s, -0.05, 0.32 * s, 0.64, 1),
        add(0.12, 0.28, 0.3 * s, 0.28, 2),
        add(0, 0, 0.07, 0.95, 3),
      ];
      for (let k = 0; k < 5; k++) {
        const y = -0.6 + k * 0.26 + j(rng, 0.02);
        shapes.push(add(-0.4 * s, y, 0.4 * s, 0.03, 4, 0.18), add(0.4 * s, y, 0.4 * s, 0.03, 4, -0.18));
      }
      return { shapes, from: [-0.42 * s, -0.4], to: [0.42 * s, 0.3], spread: 0.12, host: 1 };
    },
  },
  {
    name: 'abdomen',
    modality: 'us',
    classes: ['homogeneous', 'mildly-heterogeneous', 'heterogeneous', 'septated'],
    decisive: 'texture',
    // background, liver, fluid (gallbladder/vessels), kidney
    tissues: [0.3, 0.55, 0.05, 0.4],
    overlap: 0.3,
    noise: 0.03,
    subject(rng) {
      const s = 1 + j(rng, 0.06);
      return {
        shapes: [
          fill(-0.1, -0.05, 0.8 * s, 0.6 * s, 1, j(rng, 0.15)),
          fill(0.45, 0.35, 0.18, 0.11, 2, 0.4),
          fill(-0.25 + j(rng, 0.05), 0.3, 0.05, 0.35, 2, 0.5),
          fill(0.5, -0.45, 0.2, 0.28, 3, 0.3),
        ],
        from: [-0.4 * s, -0.15],
        to: [0.2 * s, 0.1],
        spread: 0.12,
        host: 1,
      };
    },
  },
  {
    name: 'pelvis',
    modality: 'mr',
    classes: ['solitary', 'paired', 'multifocal'],
    decisive: 'count',
    // soft tissue, fluid (bladder), bone, marrow, fat
    tissues: [0.45, 0.12, 0.1, 0.55, 0.7],
    tissuesAlt: [0.4, 0.9, 0.1, 0.5, 0.6],
    overlap: 0.3,
    noise: 0.035,
    subject(rng) {
      const s = 1 + j(rng, 0.06);
      return {
        shapes: [
          fill(0, 0, 0.92 * s, 0.74 * s, 4),
          fill(0, 0, 0.84 * s, 0.66 * s, 0),
          fill(0, -0.25, 0.28 * s, 0.22, 1),
          fill(-0.58 * s, 0.1, 0.2, 0.34, 2, 0.2),
          fill(0.58 * s, 0.1, 0.2, 0.34, 2, -0.2),
          fill(-0.58 * s, 0.1, 0.14, 0.27, 3, 0.2),
          fill(0.58 * s, 0.1, 0.14, 0.27, 3, -0.2),
          fill(0, 0.42, 0.12, 0.1, 1),
        ],
        from: [-0.34 * s, 0.12],
        to: [0.34 * s, 0.12],
        spread: 0.1,
        host: 0,
      };
    },
  },
  {
    name: 'spine',
    modality: 'ct',
    classes: ['none-minimal', 'minimal', 'mild', 'moderate', 'marked', 'severe'],
    decisive: 'size',
    // soft tissue, vertebral body, disc, canal, fat. The vertebral body (the host) leaves headroom for the
    // brightest lesion (host + 0.6 <= 1): at 0.82 most lesions saturated and sized classes lost their outline.
    tissues: [0.28, 0.4, 0.32, 0.18, 0.12],
    overlap: 0.3,
    noise: 0.04,
    subject(rng) {
      const x0 = j(rng, 0.05);
      const curve = j(rng, 0.08);
      const shapes: Shape[] = [fill(0, 0, 1.2, 1.2, 4), fill(0.05, 0, 0.85, 1.2, 0)];
      for (let k = 0; k < 6; k++) {
        const y = -0.78 + k * 0.312;
        const x = x0 + curve * (y * y - 0.3);
        shapes.push(fill(x, y, 0.24, 0.12, 1, j(rng, 0.05)));
        if (k < 5) shapes.push(fill(x, y + 0.156, 0.22, 0.03, 2));
      }
      shapes.push(fill(x0 + 0.36, 0, 0.07, 1.1, 3));
      return {
        shapes,
        from: [x0 + curve * (0.78 * 0.78 - 0.3), -0.78],
        to: [x0 + curve * (0.78 * 0.78 - 0.3), 0.78],
        spread: 0.04,
        host: 1,
      };
    },
  },
  {
    name: 'limbs',
    modality: 'xray',
    classes: ['lytic', 'mixed', 'sclerotic', 'dense-sclerotic'],
    decisive: 'contrast',
    // soft tissue, cortex, medulla (negative), joint
    tissues: [0.25, 0.45, -0.2, 0.15],
    overlap: 0.3,
    noise: 0.025,
    subject(rng) {
      const a = j(rng, 0.2);
      const w = 1 + j(rng, 0.1);
      return {
        shapes: [
          add(0, 0, 0.48 * w, 1.2, 0, a),
          add(0, 0, 0.15 * w, 1.1, 1, a),
          add(0, 0, 0.08 * w, 1.05, 2, a),
          add(0, -0.82, 0.24 * w, 0.16, 3, a),
        ],
        from: [0.5 * Math.sin(a), -0.5 * Math.cos(a)],
        to: [-0.5 * Math.sin(a), 0.5 * Math.cos(a)],
        spread: 0.03,
        host: 1,
      };
    },
  },
];

export function anatomyByName(name: string): AnatomyDef | undefined {
  return ANATOMIES.find((a) => a.name === name);
}
