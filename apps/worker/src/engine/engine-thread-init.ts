import type { LorkdEngineInit } from './lorkd-engine.js';

/** The tfjs backend a compute thread selects when it boots (before it knows its first job). */
export interface EngineThreadBoot {
  readonly backend: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'native' | 'wasm' | 'cpu';
}

/** What the compute thread needs: the engine's init plus the tfjs backend to run on. */
export interface EngineThreadInit extends LorkdEngineInit {
  readonly backend: EngineThreadBoot['backend'];
}

/** The module a ThreadEngine loads to serve a LorkdEngine. */
export const LORKD_ENGINE_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './lorkd-engine.thread.ts' : './lorkd-engine.thread.js',
  import.meta.url,
);
