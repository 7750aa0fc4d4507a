import { lorkdProject } from '../../vitest.shared.ts';

export default lorkdProject('cli', { testTimeout: 60_000 });
