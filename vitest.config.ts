import { defineConfig } from 'vitest/config';

// One `vitest run` at the root runs every workspace as a project; each project keeps its own
// vitest.config.ts (built from vitest.shared.ts) so `npm test -w <pkg>` works on its own too.
export default defineConfig({
  test: {
    projects: ['{packages/*,apps/*,test,infra}/vitest.config.ts'],
  },
});
