/**
 * `npm run schema`: writes config/rotator.schema.json from config/schema.ts and the provider
 * registry. The entry point lives here, above config/ and providers/, so config/ imports neither.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderJsonSchema } from '../../config/generate-json-schema';
import { providers } from '../../providers';

const target = resolve(process.argv[2] ?? 'config/rotator.schema.json');
writeFileSync(target, renderJsonSchema(providers));
process.stdout.write(`wrote ${target}\n`);
