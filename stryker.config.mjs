/**
 * Mutation testing of the security-critical files (`npm run test:mutation`).
 * Jest runs native ESM, so the runner's node child gets `--experimental-vm-modules`, and only the
 * specs that exercise the mutated files run. One file at a time, narrowing the specs with
 * STRYKER_SPECS (comma-separated paths) for speed:
 *   npm run test:mutation -- --mutate lib/utils/jws.ts
 *   STRYKER_SPECS=lib/jwt/jwt-verifier.spec.ts npm run test:mutation -- --mutate lib/jwt/jwt-verifier.ts
 * The e2e-backed files need the authorization server per mutant and are slower; see
 * docs/mutation-testing.md for which specs go with which file.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
const specs = process.env.STRYKER_SPECS?.split(',')
  .map((path) => path.trim())
  .filter(Boolean)
  .map((path) => `**/${path}`) ?? [
  '**/lib/utils/jws.spec.ts',
  '**/lib/guards/extract-token.spec.ts',
  '**/lib/errors/www-authenticate.spec.ts',
];

export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning'],
  coverageAnalysis: 'perTest',
  // Module-level constants run every test per mutant; mutate the functions (see the doc).
  ignoreStatic: true,
  mutate: ['lib/utils/jws.ts', 'lib/guards/extract-token.ts', 'lib/errors/www-authenticate.ts'],
  jest: {
    projectType: 'custom',
    configFile: 'jest.config.js',
    config: { testMatch: specs },
  },
  // The machine's two cores are shared: one mutant at a time.
  concurrency: 1,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.tmp-stryker',
  cleanTempDir: 'always',
};
