import { fileURLToPath } from 'node:url';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

const setup = fileURLToPath(new URL('./vitest.setup.ts', import.meta.url));

/**
 * Shared per-project settings: resolve workspace packages to their TypeScript sources (the
 * `lorkd-source` export condition), and make stray console output fail the test.
 */
export function lorkdProject(name: string, overrides: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { conditions: ['lorkd-source', 'node', 'import', 'default'] },
    ssr: { resolve: { conditions: ['lorkd-source', 'node', 'import', 'default'] } },
    test: {
      name,
      environment: 'node',
      setupFiles: [setup],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...overrides,
    },
  });
}
