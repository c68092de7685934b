#!/usr/bin/env node
'use strict';
// Thin shim: the CLI lives in src/cli; `npm ci` builds it into dist/ through the prepare script.
let cli;
try {
  cli = require('../dist/src/cli/main.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    process.stderr.write('rotator: not built yet. Run `npm run build` (npm ci does it for you).\n');
    process.exit(2);
  }
  throw err;
}
cli.main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // A forced stop (second SIGINT/SIGTERM) must not wait for sockets still closing.
    if (code === 130 || code === 143) process.exit(code);
  },
  (err) => {
    process.stderr.write(`rotator: ${err && err.message ? err.message : err}\n`);
    process.exitCode = 1;
  },
);
