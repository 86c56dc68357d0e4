/**
 * Jest runs in native ESM mode (`node --experimental-vm-modules`): NestJS 12,
 * jose 6, cache-manager 7 and oidc-provider 9 are ESM-only, and loading them
 * natively lets the authorization-server fixture run in the test process
 * itself, with no child process and no control channel to keep in sync.
 * TypeScript is compiled by SWC (decorator metadata included) to ESM.
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest'],
    // mercurius loads @fastify/static, whose content-disposition 3 is ESM-only and is
    // `require`d: jest's CommonJS loader cannot do that before Node.js 24.9, so that one file
    // is compiled to CommonJS.
    'content-disposition/dist/index\\.js$': [
      '@swc/jest',
      { module: { type: 'commonjs' }, jsc: { parser: { syntax: 'ecmascript' } } },
    ],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!(@fastify/static/node_modules/)?content-disposition/)',
  ],
  // Source files import siblings as `./x.js` (NodeNext); map them back to the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  roots: ['<rootDir>/lib', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/package/'],
  testTimeout: 30000,
  maxWorkers: 2,
};
