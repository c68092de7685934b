/**
 * Where rotator keeps host-local state that is not in the vault, decided once here so the
 * distribution memo (src/distribute/memo.ts) writes it and the output-path check
 * (config/boundaries.ts) protects it.
 */
import { dirname, join } from 'node:path';
import type { RotatorConfig } from './schema';

/**
 * The distribution memos' folder. Host-local state belongs beside the vault's own host-local
 * files (lock, key, record folder): that folder exists, rotator can write it, and it is private
 * (0700), whereas a config folder is often read-only (/etc, a Kubernetes ConfigMap). A vault
 * with no local folder (AWS Secrets Manager) uses `.rotator/` beside the config file, where the
 * default file vault would live. The sandbox keeps its memos in its own folder, apart from a
 * real vault's.
 */
export function memoDirectory(config: Pick<RotatorConfig, 'sandbox' | 'vault' | 'file'>): string {
  if (config.sandbox) return join(dirname(config.sandbox.outputsDir), 'distributed');
  if (config.vault.type === 'file') return `${config.vault.path}.distributed`;
  return join(dirname(config.file), '.rotator', 'distributed');
}
