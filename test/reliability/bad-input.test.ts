/**
 * Runs the bad-input corpus (corpus/bad-input.ts) through the CLI in-process (`main(argv, io)`)
 * against a file vault seeded with a good credential and a hostile fake NCP STS server on
 * loopback. For every case: the exit code and message fragment match; the vault is byte-identical
 * afterwards, or differs only by a resumable pending version (the current one is untouched); no
 * secret (master, stored, or issued by the hostile server) appears in stdout or stderr.
 * Prints `cases=… clear=… vaultUnchanged=… leaks=…`.
 */
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FastForwardClock } from '../../src/clock';
import { silentLogger } from '../../src/log';
import { openFileVault } from '../../src/vaults/file';
import { runCli } from '../support/cli';
import { gzipBomb, hostileServer, json, type HostileServer } from '../support/hostile-server';
import { BASE_CONFIG, CASES, type Answer, type BadInputCase, type VaultChange } from './corpus/bad-input';

const VAULT_KEY = 'a'.repeat(64);
const MASTER = { NCP_ACCESS_KEY: 'MASTERACCESSKEY1', NCP_SECRET_KEY: 'master-secret-key-corpus-1' };

let server: HostileServer;
let seedDir: string;
let root: string;
/** What the server answers now, and the secret it hands out. */
let behaviour: { issue: Answer; identity: Answer; secret: string } = {
  issue: { kind: 'good' },
  identity: { kind: 'good' },
  secret: '',
};
/** Every secret value that must never appear in output. */
const secretValues = new Set<string>(Object.values(MASTER).filter((v) => v.startsWith('master')));

function fill(text: string): string {
  return text
    .replaceAll('{{SECRET}}', behaviour.secret)
    .replaceAll('{{MASTER}}', MASTER.NCP_SECRET_KEY)
    .replace(/\{\{NOW([+-]\d+)?\}\}/g, (_m, delta: string | undefined) =>
      new Date(Date.now() + Number(delta ?? 0) * 1000).toISOString(),
    );
}

function respond(answer: Answer, res: ServerResponse): void {
  switch (answer.kind) {
    case 'good':
      return json(res, 200, {
        accessKey: `STS${randomBytes(6).toString('hex')}`,
        keySecret: behaviour.secret,
        createTime: new Date().toISOString(),
        expireTime: new Date(Date.now() + 3600_000).toISOString(),
        userType: 'Sub',
      });
    case 'status': {
      const body = fill(answer.body);
      res.writeHead(answer.status, {
        'Content-Type': answer.contentType ?? 'application/json',
        'Content-Length': Buffer.byteLength(body),
        ...(answer.retryAfter ? { 'Retry-After': answer.retryAfter } : {}),
      });
      return void res.end(body);
    }
    case 'credentials':
      return json(res, 200, fill(JSON.stringify(answer.body)));
    case 'raw':
      return json(res, 200, fill(answer.body));
    case 'bomb':
      return gzipBomb(res);
    case 'huge':
      return json(res, 200, `{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`);
    case 'drop':
      return void res.socket?.destroy();
  }
}

function handler(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?')[0];
  respond(path === '/api/v1/caller-identity' ? behaviour.identity : behaviour.issue, res);
}

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else out.set(relative(dir, p), (await readFile(p)).toString('base64'));
    }
  };
  await walk(dir);
  return out;
}

function sameFiles(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

/** The per-key record files of the file vault (src/vaults/file-store.ts: keys/<name>.rec). */
async function recordFiles(state: string): Promise<string[]> {
  const keys = join(state, 'vault.json.d', 'keys');
  return (await readdir(keys)).filter((n) => n.endsWith('.rec')).map((n) => join(keys, n));
}

async function changeVault(state: string, change: VaultChange): Promise<void> {
  for (const file of await recordFiles(state)) {
    if (!(await stat(file)).isFile()) continue;
    if (change.kind === 'overwrite-records') await writeFile(file, change.content);
    if (change.kind === 'truncate-records') await truncate(file, change.bytes);
    if (change.kind === 'store-to-file') {
      await rm(join(state, 'vault.json.d'), { recursive: true });
      await writeFile(join(state, 'vault.json.d'), 'not a folder');
      return;
    }
    if (change.kind === 'records-to-dir') {
      await rm(file);
      await mkdir(file);
    }
  }
}

/**
 * How the vault compares with the seeded one, through the vault itself: `status-only` when the
 * credentials (current, previous) are untouched and no version was added, only the durable
 * attempt status (back-off, last error) that a failed rotation records; `pending` when a
 * resumable pending version was added beside the untouched current; else `changed`.
 */
async function compareVault(state: string): Promise<'status-only' | 'pending' | 'changed'> {
  const s = await readVault(state).catch(() => undefined);
  if (
    !s ||
    JSON.stringify(s.current) !== JSON.stringify(seeded.current) ||
    JSON.stringify(s.previous) !== JSON.stringify(seeded.previous)
  )
    return 'changed';
  return s.pending === undefined ? 'status-only' : 'pending';
}

async function readVault(state: string) {
  const vault = await openFileVault({
    path: join(state, 'vault.json'),
    key: Buffer.from(VAULT_KEY, 'hex'),
    clock: new FastForwardClock(),
    log: silentLogger,
  });
  return vault.read('ncp');
}

let seeded: Awaited<ReturnType<typeof readVault>>;
const results: {
  c: BadInputCase;
  clear: boolean;
  unchanged: boolean;
  vault: 'identical' | 'status-only' | 'pending' | 'changed';
  leaked: string[];
  got: string;
}[] = [];

beforeAll(async () => {
  server = await hostileServer(handler);
  root = await mkdtemp(join(tmpdir(), 'rotator-corpus-'));
  seedDir = join(root, 'seed');
  await mkdir(seedDir);
  await writeFile(join(seedDir, 'rotator.config.yaml'), BASE_CONFIG.replaceAll('{{URL}}', server.url));
  behaviour = { issue: { kind: 'good' }, identity: { kind: 'good' }, secret: `seeded-secret-${randomBytes(8).toString('hex')}` };
  secretValues.add(behaviour.secret);
  const seedRun = await runCli(['-c', join(seedDir, 'rotator.config.yaml'), 'rotate', 'ncp'], {
    ...MASTER,
    ROTATOR_VAULT_KEY: VAULT_KEY,
  });
  if (seedRun.code !== 0) throw new Error(`seeding failed: ${seedRun.stderr}`);
  seeded = await readVault(join(seedDir, 'state'));
});

afterAll(async () => {
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
  if (results.length === 0) return;
  // CORPUS_DUMP=<file> writes what each case got, for writing new cases.
  if (process.env.CORPUS_DUMP) {
    const dump = results.map((r) => ({
      name: r.c.name,
      want: `${r.c.exit} ${r.c.message}`,
      ok: r.clear && r.vault !== 'changed' && r.leaked.length === 0,
      vault: r.vault,
      leaked: r.leaked.length,
      got: r.got,
    }));
    await writeFile(process.env.CORPUS_DUMP, JSON.stringify(dump, null, 1));
  }
  const clear = results.filter((r) => r.clear).length;
  const count = (v: string) => results.filter((r) => r.vault === v).length;
  const unchanged = results.length - count('changed');
  const leaks = results.reduce((n, r) => n + r.leaked.length, 0);
  process.stdout.write(
    `bad-input corpus: cases=${results.length} clear=${clear} vaultUnchanged=${unchanged} (byteIdentical=${count('identical')} attemptStatusOnly=${count('status-only')} resumablePending=${count('pending')}) leaks=${leaks}\n`,
  );
});

test('the corpus has at least 150 cases with unique names', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(150);
  expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
});

describe.each(['config', 'output', 'usage', 'vault', 'answer'])('bad input: %s', (kind) => {
  test.each(CASES.filter((c) => c.kind === kind).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = join(root, `case-${results.length}`);
    await mkdir(dir);
    await cp(join(seedDir, 'state'), join(dir, 'state'), { recursive: true });
    if (c.vault) await changeVault(join(dir, 'state'), c.vault);
    const configFile = join(dir, 'rotator.config.yaml');
    await writeFile(configFile, (c.config ?? BASE_CONFIG).replaceAll('{{URL}}', server.url));
    const before = await filesUnder(join(dir, 'state'));
    behaviour = {
      issue: c.issue ?? { kind: 'good' },
      identity: c.identity ?? { kind: 'good' },
      secret: `hostile-issued-${randomBytes(8).toString('hex')}`,
    };
    const env: Record<string, string> = { ...MASTER, ROTATOR_VAULT_KEY: VAULT_KEY };
    for (const [k, v] of Object.entries(c.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const configPath = (c.configPath ?? configFile).replace('{{DIR}}', dir);
    const run = await runCli(['-c', configPath, ...(c.args ?? ['rotate', 'ncp'])], env, new FastForwardClock());
    const output = run.stdout + run.stderr;
    const after = await filesUnder(join(dir, 'state'));
    const unchanged = sameFiles(before, after);
    // A damaged vault must be left exactly as found; otherwise the credentials must be untouched.
    const vault = unchanged ? 'identical' : c.vault ? 'changed' : await compareVault(join(dir, 'state'));
    const leaked = [...secretValues, behaviour.secret].filter((v) => output.includes(v));
    const clear = run.code === c.exit && output.toLowerCase().includes(c.message.toLowerCase());
    const said = output
      .split('\n')
      .filter((l) => !l.startsWith('{'))
      .join(' / ');
    results.push({ c, clear, unchanged, vault, leaked, got: `${run.code} ${said.slice(0, 400)}` });
    await rm(dir, { recursive: true, force: true });
    expect({ exit: run.code, output: output.toLowerCase() }).toEqual({
      exit: c.exit,
      output: expect.stringContaining(c.message.toLowerCase()) as unknown,
    });
    expect(vault).not.toBe('changed');
    expect(leaked).toEqual([]);
  });
});
