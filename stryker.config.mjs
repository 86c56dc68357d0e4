/**
 * Mutation testing of the security-critical files with fast unit specs (`npm run test:mutation`).
 * Jest runs native ESM, so the runner's node child gets `--experimental-vm-modules`, and only the
 * specs that exercise the mutated files run. One file at a time:
 *   npm run test:mutation -- --mutate lib/utils/jws.ts
 * The e2e-backed files (token validation, key selection, the cache) need the AS and are slower;
 * see docs/mutation-testing.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning'],
  coverageAnalysis: 'perTest',
  mutate: ['lib/utils/jws.ts', 'lib/guards/extract-token.ts', 'lib/errors/www-authenticate.ts'],
  jest: {
    projectType: 'custom',
    configFile: 'jest.config.js',
    config: {
      testMatch: [
        '**/lib/utils/jws.spec.ts',
        '**/lib/guards/extract-token.spec.ts',
        '**/lib/errors/www-authenticate.spec.ts',
      ],
    },
  },
  concurrency: 1,
  reporters: ['clear-text', 'progress'],
  tempDirName: '.tmp-stryker',
  cleanTempDir: 'always',
};
