import { lorkdProject } from '../vitest.shared.ts';

export default lorkdProject('e2e', { testTimeout: 180_000 });
