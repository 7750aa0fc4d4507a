import { lorkdProject } from '../vitest.shared.ts';

export default lorkdProject('infra');
