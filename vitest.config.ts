import { defineConfig } from 'vitest/config';

// Node loads graphql's CommonJS entry for type-graphql and Apollo; make vite resolve the same
// file, or two copies of graphql meet at run time ("Cannot use GraphQLSchema from another module").
const graphqlAlias = [{ find: /^graphql$/, replacement: 'graphql/index.js' }];

export default defineConfig({
  resolve: { alias: graphqlAlias },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'core', include: ['packages/core/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'server',
          include: ['packages/server/test/**/*.test.ts', 'packages/server/src/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['reflect-metadata'],
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          exclude: ['test/cli*.e2e.test.ts', 'test/docker-stack.e2e.test.ts', '**/node_modules/**'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'cli',
          include: ['packages/cli/test/**/*.test.ts', 'test/cli*.e2e.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // the compose stack on a real Docker engine: minutes, root, its own run (npm run test:docker)
        extends: true,
        test: {
          name: 'docker',
          include: ['test/docker-stack.e2e.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
