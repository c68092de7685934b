#!/usr/bin/env node
'use strict';
/**
 * The package registry this project is built from serves only some platforms' builds of a few
 * native packages (jest 30's unrs-resolver lists 21 optional per-platform bindings; the registry
 * has the 4 Linux ones). `npm install` then writes a lockfile that names optional dependencies
 * it could not lock, and `npm ci` refuses that lockfile ("Missing: … from lock file").
 *
 * This drops optional dependencies that have no entry in the lockfile, which is exactly what an
 * install on this registry can provide. Run it after `npm install` changes the lockfile:
 *   node .ci/prune-lockfile.js          # rewrite package-lock.json
 *   node .ci/prune-lockfile.js --check  # exit 1 if it would change anything (CI)
 */
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const dropped = [];

/** Where npm would find `name` from the package at `from`: nested first, then each ancestor. */
function resolves(from, name) {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate]) return true;
    if (!dir) return false;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut === -1 ? '' : dir.slice(0, cut);
  }
}

for (const [where, entry] of Object.entries(lock.packages)) {
  for (const name of Object.keys(entry.optionalDependencies ?? {})) {
    if (!resolves(where, name)) {
      delete entry.optionalDependencies[name];
      dropped.push(`${where || '(root)'} → ${name}`);
    }
  }
}

if (process.argv.includes('--check')) {
  if (dropped.length) {
    process.stderr.write(
      `package-lock.json names ${dropped.length} optional dependencies it does not lock; run \`node .ci/prune-lockfile.js\` and commit.\n`,
    );
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
  process.stdout.write(`dropped ${dropped.length} unlockable optional dependencies\n`);
}
