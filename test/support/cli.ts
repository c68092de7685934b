/**
 * Runs the CLI in-process with captured stdout/stderr and an injected environment, as a user
 * would from a shell but without spawning (spawned runs are in test/integration/daemon.test.ts).
 */
import { Writable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../src/cli/main';
import { systemClock } from '../../src/clock';
import type { Clock } from '../../src/types';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv, clock: Clock = systemClock): Promise<CliRun> {
  const out = sink();
  const err = sink();
  const io: CliIo = {
    stdout: out.stream,
    stderr: err.stream,
    env: { ROTATOR_LOG_LEVEL: 'info', ...env },
    clock,
    onSignal: () => () => {},
  };
  const code = await main(['node', 'rotator', ...args], io);
  return { code, stdout: out.text(), stderr: err.text() };
}

/** A temporary folder holding a config file; removed by `cleanup`. */
export async function configDir(yaml: string): Promise<{ dir: string; file: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-cli-'));
  const file = join(dir, 'rotator.config.yaml');
  await writeFile(file, yaml);
  return { dir, file, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A config with one MongoDB Cloud Manager secret `mongo` on a file vault, its master key from
 * MCM_PUBLIC_KEY / MCM_PRIVATE_KEY, against an emulator at `url`.
 */
export function oneMongoSecretYaml(options: { orgId: string; clientId: string; url: string }): string {
  return `
vault: { type: file, path: vault/vault.json }
secrets:
  - id: mongo
    provider: mongodb-cloud-manager
    credentials: { publicKey: \${MCM_PUBLIC_KEY}, privateKey: \${MCM_PRIVATE_KEY} }
    params: { orgId: ${options.orgId}, clientId: ${options.clientId}, secretExpiresAfterHours: 72, baseUrl: ${options.url}/api/public/v1.0 }
`;
}
