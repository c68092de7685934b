// Linting, configured once: typescript-eslint's recommended rules over the whole codebase.
// Formatting is prettier's job (`npm run format:check`), so no style rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const KERNEL = 'src/{types,errors,redact,clock,duration,totp}.ts';

/** `files` may not import modules matching `patterns` (type-only imports excepted). */
function layer(files, patterns, ignores = []) {
  return {
    files,
    ignores,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: patterns.map((p) => ({ regex: p.regex, message: p.message, allowTypeImports: true })) },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.rotator/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      // Plugin contracts take zod schemas of any shape (ProviderPlugin<C = any, P = any>).
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // One-way layers (issue 14): kernel (src/types, errors, redact, clock, duration, totp) <-
  // providers <- config (providers injected, never imported) <- engine (src) <- cli (src/cli).
  // Type-only imports are allowed where they name a contract.
  layer(
    ['providers/**/*.ts'],
    [
      {
        regex: '(^|/)config/',
        message: 'providers/ must not import config/: config validates with the schemas providers export',
      },
      {
        regex: '/src/(cli/|rotate|scheduler|service|runtime|sandbox|status-server|config|distribute/|vaults/)',
        message: 'providers/ must not import the engine or the CLI: they sit below them',
      },
      { regex: '^\\.\\.(/index)?/?$', message: 'a provider must not import the registry (providers/index.ts)' },
    ],
  ),
  layer(
    ['config/**/*.ts'],
    [
      {
        regex: '(^|/)providers(/|$)',
        message: 'config/ must not import providers/: they are injected (src/config.ts passes the registry)',
      },
      {
        regex: '/src/(cli/|rotate|scheduler|service|runtime|sandbox|status-server|config|vaults/)',
        message: 'config/ must not import the engine or the CLI',
      },
    ],
  ),
  // (Flat config: a later block's setting of a rule replaces an earlier one, so these two do not overlap.)
  layer(['src/**/*.ts'], [{ regex: '(^|/)cli/', message: 'the engine must not import the CLI' }], ['src/cli/**', KERNEL]),
  layer(
    [KERNEL],
    [
      {
        regex: '(^|/)(config|providers)(/|$)|^\\./(rotate|scheduler|service|runtime|sandbox|cli/|distribute/|vaults/)',
        message: 'the kernel imports nothing above it',
      },
    ],
  ),
  {
    // bin/, the jest configs and test helpers in .js are CommonJS on purpose.
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
