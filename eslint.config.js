// ESLint flat config: typescript-eslint's strict and stylistic type-checked
// rules, Prettier owns formatting, and per-folder rules that keep the pure
// parts of the engine pure (no clock, randomness, environment or I/O).
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const engineFolders = ['src/base/**', 'src/registry/**', 'src/verify/**', 'src/sbom/**', 'src/policy/**'];
const pureFolders = ['src/sbom/**', 'src/policy/**'];

// Flat config replaces (not merges) a rule's options per matching block, so
// each folder's import restrictions include the ones of the folders around it.
const deepImports = [
  {
    group: ['*/dist/*', '*/lib/*', '@*/*/dist/*'],
    message: "Import a package's public entry point (style.md §2).",
  },
];
const engineImports = [
  ...deepImports,
  { group: ['@kubernetes/*'], message: 'The verification engine has no Kubernetes imports.' },
  {
    group: ['prom-client', 'winston'],
    message: 'The engine reports through return values, not metrics or logs.',
  },
];
const pureImports = [
  ...engineImports,
  { group: ['node:fs*', 'node:net', 'node:http*', 'undici'], message: 'Pure code does no I/O.' },
];

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '.testenv/'] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      // Never reach into a dependency's internals (style.md §2).
      'no-restricted-imports': ['error', { patterns: deepImports }],
      eqeqeq: 'error',
      // @kubernetes/client-node's generated models are classes holding only
      // public data fields; its API takes object literals (as its own examples
      // do) and serialises through attribute maps, so a literal is exactly as
      // good as an instance there. No other classes in this project are built
      // from literals.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
    },
  },
  {
    // The verification engine is shared by the CLI and the operator and must
    // run offline in CI pipelines: no Kubernetes client, metrics or logging
    // framework (it takes explicit options and returns data instead).
    files: engineFolders,
    rules: {
      'no-restricted-imports': ['error', { patterns: engineImports }],
    },
  },
  {
    // Pure code: time arrives as `now`, nothing reads the environment.
    files: pureFolders,
    rules: {
      'no-restricted-globals': ['error', 'process', 'fetch', 'setTimeout', 'setInterval'],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Pass `now: Date` in.' },
        { object: 'Math', property: 'random', message: 'Pure code is deterministic.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Pass `now: Date` in.',
        },
      ],
      'no-restricted-imports': ['error', { patterns: pureImports }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // chai's `expect(x).to.be.true` style is an expression statement.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { module: 'writable', require: 'readonly' } },
  },
  prettier,
);
