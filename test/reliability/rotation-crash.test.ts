/**
 * Kill -9 the rotator at the worst moments and inject faults; then check that nothing was lost:
 * the current credential survives, an interrupted rotation is finished by the next run without
 * issuing again, and every credential the emulator issued is accounted for.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, msg } from '../support/daemon';
import { runCli } from '../support/cli';
import { startNcpStsEmulator, generateAccount, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { FastForwardClock } from '../../src/clock';

let dir: string;
let emu: NcpStsEmulator;
let env: NodeJS.ProcessEnv;
const daemons: Daemon[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotator-crash-'));
  const account = generateAccount();
  emu = await startNcpStsEmulator({ accounts: [account] });
  const config = join(dir, 'rotator.config.yaml');
  await writeFile(
    config,
    [
      'vault: { type: file, path: vault.json }',
      'secrets:',
      ...['a', 'b'].flatMap((id) => [
        `  - id: ${id}`,
        '    provider: ncp-sts',
        '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
        `    params: { durationSec: 3600, endpoint: "${emu.url}" }`,
      ]),
    ].join('\n'),
  );
  env = {
    ROTATOR_CONFIG: config,
    ROTATOR_VAULT_KEY: 'c'.repeat(64),
    NCP_ACCESS_KEY: account.accessKey,
    NCP_SECRET_KEY: account.secretKey,
  };
});

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.kill()));
  await emu.close();
  await rm(dir, { recursive: true, force: true });
});

function start(args: string[]): Daemon {
  const d = new Daemon(args, env);
  daemons.push(d);
  return d;
}

async function vaultState(id: string) {
  const status = JSON.parse((await runCli(['status', '--json'], env)).stdout) as any[];
  return status.find((s) => s.secretId === id);
}

/** Keys the emulator actually issued (requests that failed or were dropped issued none). */
const issuedCount = () => emu.issuedKeys().length;

test('killed after the pending write: the next run verifies and promotes it without issuing again', async () => {
  expect((await runCli(['rotate', 'a'], env)).code).toBe(0);
  const before = await vaultState('a');
  emu.latencyMs = 400; // verification is slow enough to be killed in the middle of it
  const d = start(['rotate', 'a']);
  const stored = await d.waitFor(msg('stored as pending'));
  d.child.kill('SIGKILL');
  await d.exited;

  const crashed = await vaultState('a');
  expect(crashed.state).toBe('renewing'); // a pending version is resumed at once
  expect(crashed.currentVersion).toBe(before.currentVersion); // current survived
  expect(crashed.pendingVersion).toBe(stored.rotationId);

  emu.latencyMs = 0;
  const issued = issuedCount();
  const resume = await runCli(['rotate', 'a', '--if-due'], env);
  expect(resume.code).toBe(0);
  expect(resume.stdout).toMatch(/a: resumed an interrupted rotation/);
  expect(issuedCount()).toBe(issued); // nothing new issued
  const after = await vaultState('a');
  expect(after).toMatchObject({ state: 'ok', currentVersion: stored.rotationId, previousVersion: before.currentVersion });
});

test("the daemon restarted after kill -9 resumes at once (the dead process's lease does not block it)", async () => {
  emu.latencyMs = 400;
  const first = start(['run']);
  await first.waitFor(msg('stored as pending', 'a'));
  first.child.kill('SIGKILL');
  await first.exited;
  emu.latencyMs = 0;

  const second = start(['run']);
  await second.waitFor(msg('promoted (resumed)', 'a'), 10_000, 'a resumed');
  // b may or may not have reached its pending write before the kill: either way it ends current.
  await second.waitFor((l) => l.secretId === 'b' && String(l.msg).startsWith('promoted'), 10_000, 'b promoted');
  second.child.kill('SIGTERM');
  expect((await second.exited).code).toBe(0);
  // Every key the emulator issued is either in the vault or was issued by the killed run before
  // its pending write (NCP STS keys cannot be revoked; they expire): at most one such key.
  const a = await vaultState('a');
  const b = await vaultState('b');
  expect(a.state).toBe('ok');
  expect(b.state).toBe('ok');
  expect(issuedCount()).toBeLessThanOrEqual(3);
});

test('kill -9 at random moments, 12 times: the vault always opens, and current is never lost once set', async () => {
  let lastCurrent: string | undefined;
  for (let i = 0; i < 12; i++) {
    emu.latencyMs = 50 + (i % 4) * 40;
    const d = start(['rotate', '--all']);
    await new Promise((r) => setTimeout(r, 100 + ((i * 97) % 400)));
    d.child.kill('SIGKILL');
    await d.exited;
    const status = await runCli(['status', '--json'], env);
    expect(status.code).toBe(0); // the vault is readable after every kill
    const a = JSON.parse(status.stdout).find((s: any) => s.secretId === 'a');
    if (lastCurrent) expect(a.currentVersion).toBeDefined();
    lastCurrent = a.currentVersion ?? lastCurrent;
  }
  emu.latencyMs = 0;
  const final = await runCli(['rotate', '--all', '--if-due'], env);
  expect(final.code).toBe(0);
  for (const id of ['a', 'b']) expect((await vaultState(id)).state).toBe('ok');
});

test('faults on every call (429, 503, dropped connections) are retried; the rotation completes once', async () => {
  emu.faults.push(
    { status: 503, times: 1, path: '/api/v1/credentials' },
    { status: 429, times: 1, path: '/api/v1/caller-identity' },
  );
  emu.dropConnections(1);
  const run = await runCli(['rotate', 'a'], env, new FastForwardClock());
  expect(run.code).toBe(0);
  const state = await vaultState('a');
  expect(state.state).toBe('ok');
  // The dropped and the failed requests issued nothing: exactly one key exists, and it is current.
  expect(issuedCount()).toBe(1);
  expect(emu.issuedKeys()[0]!.accessKey).toBe(JSON.parse((await runCli(['get', 'a'], env)).stdout).providerRef);
  expect(run.stderr).toMatch(/retrying/);
});
