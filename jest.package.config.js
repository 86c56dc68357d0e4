/**
 * `npm run test:package`: the packed-tarball smoke test (test/package/package.spec.ts).
 * Same native-ESM + SWC setup as jest.config.js; only that one spec, one worker, and
 * timeouts sized for `npm install` (the spec bounds each step itself).
 */
import base from './jest.config.js';

export default {
  ...base,
  roots: ['<rootDir>/test'],
  testMatch: ['<rootDir>/test/package/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  // The smoke apps are copied out of the tree before install; never crawl their leftovers.
  modulePathIgnorePatterns: ['<rootDir>/test/package/[^/]+/'],
  testTimeout: 120000,
  maxWorkers: 1,
};
