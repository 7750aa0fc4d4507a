// tfjs-core's node bundle registers no gradient functions; tfjs-layers' bundle registers all of them
// (on the shared tfjs-core instance). Import this module for its side effect before any training.
import '@tensorflow/tfjs-layers';
