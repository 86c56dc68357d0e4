// ESLint 9 flat config. Type-aware (typescript-eslint's project service) so that
// `no-floating-promises` and `no-misused-promises` can see what returns a Promise:
// a forgotten `await` in a guard lets a request through before validation ends.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-*/**',
      'coverage/**',
      'node_modules/**',
      'bench/results/**',
      // Scratch output of local runs (gitignored).
      '.tmp-*/**',
      // The packed-tarball smoke apps are type-checked by their own tsc (node10 / nodenext).
      'test/package/*/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'off',
    },
  },
  {
    // A library logs through Nest's Logger, never the console.
    files: ['lib/**/*.ts'],
    ignores: ['lib/**/*.spec.ts'],
    rules: {
      'no-console': 'error',
      // jose 6 is ESM-only: jest's CommonJS runtime (a `nest new` app's) cannot require it.
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'jose', message: 'Use lib/utils/jws.ts (node:crypto).' }] },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Plain JS config files are not in any tsconfig; lint them without type information.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    // TypeScript's checker, not ESLint's, knows Node's globals; config files only use `import.meta`.
    rules: { 'no-undef': 'off' },
  },
);
