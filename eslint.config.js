// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'bench/results/**', '**/*.d.ts', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  // type-aware rules: floating promises, unsafe any, misused promises … (typescript-eslint's recommendedTypeChecked)
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // the embedded store implements the async store port with synchronous code, on purpose
      '@typescript-eslint/require-await': 'off',
      'no-console': 'off',
    },
  },
  {
    // functions short enough to read at once (tests are exempt: a scenario reads top to bottom)
    files: ['packages/*/src/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  {
    // the store is the bottom layer of the server: it imports nothing from above it
    files: ['packages/server/src/store/**/*.ts', 'src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*'], message: 'store/ imports nothing from above it (totp/, config.ts, server.ts …)' }] }],
    },
  },
);
