import * as tf from '@tensorflow/tfjs-core';

/** Smoothing of the soft Dice ratio. */
export const DICE_SMOOTH = 1;

/**
 * Per-sample task loss of one region group, summed over its samples: CE (classification, logits
 * [m,C]) or mean-pixel CE + soft Dice (segmentation, logits [m,H,W,C]).
 */
export function taskLossSum(logits: tf.Tensor, labels: tf.Tensor, segmentation: boolean): tf.Scalar {
  const classes = logits.shape[logits.rank - 1] as number;
  const onehot = tf.reshape(tf.oneHot(tf.reshape(labels, [-1]) as tf.Tensor1D, classes), logits.shape);
  const logp = tf.logSoftmax(logits);
  const ce = tf.neg(tf.sum(tf.mul(onehot, logp), -1));
  if (!segmentation) return tf.sum(ce);
  const meanCe = tf.mean(ce, [1, 2]);
  const p = tf.exp(logp);
  const inter = tf.sum(tf.mul(p, onehot), [1, 2]);
  const denom = tf.add(tf.sum(p, [1, 2]), tf.sum(onehot, [1, 2]));
  const dice = tf.div(tf.add(tf.mul(inter, 2), DICE_SMOOTH), tf.add(denom, DICE_SMOOTH));
  const diceLoss = tf.sub(1, tf.mean(dice, -1));
  return tf.sum(tf.add(meanCe, diceLoss));
}

/**
 * τ²·KL(teacher ‖ student) on temperature-softened outputs, per sample (mean over pixels for
 * segmentation), summed over the group's samples. `teacherLogits` is a constant (no gradient flows to it).
 */
export function kdLossSum(
  logits: tf.Tensor,
  teacherLogits: tf.Tensor,
  temperature: number,
  segmentation: boolean,
): tf.Scalar {
  const logpT = tf.logSoftmax(tf.div(teacherLogits, temperature));
  const logpS = tf.logSoftmax(tf.div(logits, temperature));
  const kl = tf.sum(tf.mul(tf.exp(logpT), tf.sub(logpT, logpS)), -1);
  const perSample = segmentation ? tf.mean(kl, [1, 2]) : kl;
  return tf.mul(tf.sum(perSample), temperature * temperature);
}
