/**
 * Crash at every step (issue 10, "Prove it"): a spawned `rotator rotate app --force` is SIGKILLed
 * at each step of a rotation, for each provider × vault, triggered from the server side (the
 * emulators' request triggers, src/emulator-kit.ts), never by failpoints in product code:
 *
 * | step                   | kill when…                                                                |
 * |------------------------|---------------------------------------------------------------------------|
 * | after issue            | the provider created the credential; its answer is held, never read      |
 * | after pending write    | file vault: verify's request arrives (before it is served);              |
 * |                        | AWS vault: PutSecretValue(AWSPENDING) applied, answer held                 |
 * | during verify          | verify's request was served (token minted / identity read), answer held  |
 * | during promote         | AWS vault: UpdateSecretVersionStage(AWSCURRENT) applied, answer held;     |
 * |                        | file vault: the key's record file is renamed into place after verify     |
 * |                        | (the test watches the folder: observation, not a failpoint)              |
 * | during outputs         | a reload `command` output writes a signal file and blocks                 |
 * | during revoke previous | MongoDB applied the DELETE of the previous secret, answer held            |
 * |                        | (N/A for NCP STS: its keys cannot be revoked, they expire)                |
 *
 * Recovery is what cron or a restarted daemon does: `rotator rotate app --if-due`. Afterwards:
 * no pending version is left; the vault's current credential is valid at the provider (checked
 * over HTTP against the emulator); the file output holds it; MongoDB holds no secret the vault
 * does not know (current/pending/previous) and at most 2 per account; and the interrupted
 * rotation plus its recovery issued one credential, not two.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../support/daemon';
import { runCli } from '../support/cli';
import { fileAppears, killNow, killOn, killOnFile, type CrashTrigger } from '../support/crash-trigger';
import { generateAccount, startNcpStsEmulator, type NcpStsEmulator } from '../../providers/ncp-sts/emulator';
import { signedHeaders } from '../../providers/ncp-sts/signature';
import {
  generateApiKey,
  generateClientId,
  generateOrgId,
  startMcmEmulator,
  type McmEmulator,
} from '../../providers/mongodb-cloud-manager/emulator';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../src/vaults/aws/emulator';

type StepName =
  'after issue' | 'after pending write' | 'during verify' | 'during promote' | 'during outputs' | 'during revoke of previous';
/** `mongodb-atlas`: the MongoDB provider with `api: atlas-v2` (same emulator, Atlas Admin API v2). */
type ProviderName = 'ncp-sts' | 'mongodb-cloud-manager' | 'mongodb-atlas';
type VaultName = 'file' | 'aws-secrets-manager';

const STEPS: StepName[] = [
  'after issue',
  'after pending write',
  'during verify',
  'during promote',
  'during outputs',
  'during revoke of previous',
];
const PROVIDERS: ProviderName[] = ['ncp-sts', 'mongodb-cloud-manager', 'mongodb-atlas'];
const VAULTS: VaultName[] = ['file', 'aws-secrets-manager'];
/**
 * NCP STS keys cannot be revoked (they expire): that crash point does not exist there. Atlas
 * shares the Cloud Manager code path but for its API flavour: the file vault alone keeps the
 * file's run time within CI's budget.
 */
const applies = (step: StepName, provider: ProviderName, vault: VaultName) =>
  !(step === 'during revoke of previous' && provider === 'ncp-sts') && !(provider === 'mongodb-atlas' && vault !== 'file');
const CASES = STEPS.flatMap((step) =>
  PROVIDERS.flatMap((provider) =>
    VAULTS.filter((vault) => applies(step, provider, vault)).map((vault) => ({ step, provider, vault })),
  ),
);
/** Crash points that do not exist (NCP cannot revoke). */
const NOT_APPLICABLE = VAULTS.length;

const AWS = { AWS_ACCESS_KEY_ID: 'AKIDCRASHMATRIX', AWS_SECRET_ACCESS_KEY: 'crash-matrix-secret' };
/**
 * MongoDB's clock runs behind ours, so a fresh secret's createdAt is already past the 1 s grace:
 * the rotation revokes the previous secret right after promoting (the step we crash in).
 */
const MONGO_CLOCK_BEHIND_MS = 5_000;

const tally = { crashPoints: 0, recovered: 0, lost: 0, orphaned: 0, doubleIssued: 0 };

interface Fixture {
  dir: string;
  env: NodeJS.ProcessEnv;
  ncp?: NcpStsEmulator;
  ncpMaster?: { accessKey: string; secretKey: string };
  mcm?: McmEmulator;
  clientId?: string;
  sm?: SecretsManagerEmulator;
  /** Credentials issued (create applied at the provider), counted from the emulator. */
  issued: () => number;
  hookSignal: string;
  /** How many times the reload command has started. */
  hookRuns(): Promise<number>;
  output: string;
  close(): Promise<void>;
}

let fixture: Fixture | undefined;
let victim: Daemon | undefined;
let hookPid: number | undefined;

afterEach(async () => {
  await victim?.kill();
  if (hookPid) {
    try {
      process.kill(hookPid, 'SIGKILL'); // the blocking hook this test's rotator started
    } catch {
      // Already gone.
    }
  }
  victim = undefined;
  hookPid = undefined;
  await fixture?.close();
  fixture = undefined;
});

afterAll(() => {
  // The figure the lead quotes (issue 10).
  console.log(
    `crashPoints=${tally.crashPoints} recovered=${tally.recovered} lost=${tally.lost} orphaned=${tally.orphaned} ` +
      `doubleIssued=${tally.doubleIssued} notApplicable=${NOT_APPLICABLE} (ncp-sts cannot revoke)`,
  );
});

/** `fileFirst`: the file output before the reload command (default: after it). */
async function setUp(provider: ProviderName, vault: VaultName, options: { fileFirst?: boolean } = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-crash-matrix-'));
  const hookSignal = join(dir, 'hook-started');
  const output = join(dir, 'app.json');
  const env: NodeJS.ProcessEnv = {};
  const closers: (() => Promise<void>)[] = [];
  const lines: string[] = [];
  let sm: SecretsManagerEmulator | undefined;
  if (vault === 'file') {
    lines.push('vault: { type: file, path: vault.json }');
    env.ROTATOR_VAULT_KEY = 'd'.repeat(64);
  } else {
    sm = await startSecretsManagerEmulator({ credentials: { [AWS.AWS_ACCESS_KEY_ID]: AWS.AWS_SECRET_ACCESS_KEY } });
    closers.push(() => sm!.close());
    lines.push(`vault: { type: aws-secrets-manager, region: us-east-1, endpoint: "${sm.url}" }`);
    Object.assign(env, AWS);
  }
  lines.push('secrets:', '  - id: app', `    provider: ${provider === 'mongodb-atlas' ? 'mongodb-cloud-manager' : provider}`);
  const fx: Partial<Fixture> = { dir, env, sm, hookSignal, output };
  let issued = 0;
  if (provider === 'ncp-sts') {
    const account = generateAccount();
    const ncp = await startNcpStsEmulator({ accounts: [account] });
    closers.push(() => ncp.close());
    ncp.on('createCredentials', 'applied', () => void issued++);
    lines.push(
      '    credentials: { accessKey: ${NCP_ACCESS_KEY}, secretKey: ${NCP_SECRET_KEY} }',
      `    params: { durationSec: 3600, endpoint: "${ncp.url}" }`,
    );
    Object.assign(env, { NCP_ACCESS_KEY: account.accessKey, NCP_SECRET_KEY: account.secretKey });
    Object.assign(fx, { ncp, ncpMaster: { accessKey: account.accessKey, secretKey: account.secretKey } });
  } else {
    const key = generateApiKey();
    const orgId = generateOrgId();
    const clientId = generateClientId();
    const mcm = await startMcmEmulator({
      apiKeys: [key],
      serviceAccounts: [{ orgId, clientId }],
      clock: { now: () => Date.now() - MONGO_CLOCK_BEHIND_MS, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
    });
    closers.push(() => mcm.close());
    const api =
      provider === 'mongodb-atlas'
        ? `api: atlas-v2, baseUrl: "${mcm.url}/api/atlas/v2"`
        : `baseUrl: "${mcm.url}/api/public/v1.0"`;
    mcm.on('createSecret', 'applied', () => void issued++);
    lines.push(
      '    credentials: { publicKey: ${MCM_PUBLIC_KEY}, privateKey: ${MCM_PRIVATE_KEY} }',
      `    params: { orgId: ${orgId}, clientId: ${clientId}, secretExpiresAfterHours: 72, revokePreviousAfter: 1s, ${api} }`,
    );
    Object.assign(env, { MCM_PUBLIC_KEY: key.publicKey, MCM_PRIVATE_KEY: key.privateKey });
    Object.assign(fx, { mcm, clientId });
  }
  // The reload command records each run, and blocks (until killed) once the test armed it, after
  // saying so (its pid in the signal file): the test kills the rotator then. By default the file
  // output comes after it, so a kill there leaves that file stale until the recovery catches up.
  const hook =
    `echo run >> ${hookSignal}.runs; if [ -e ${hookSignal}.armed ]; then rm ${hookSignal}.armed; ` +
    `echo $$ > ${hookSignal}.tmp && mv ${hookSignal}.tmp ${hookSignal} && exec sleep 30; fi`;
  const outputs = [
    `      - { type: command, run: ${JSON.stringify(hook)} }`,
    `      - { type: file, path: app.json, format: json }`,
  ];
  lines.push('    outputs:', ...(options.fileFirst ? outputs.reverse() : outputs));
  const config = join(dir, 'rotator.config.yaml');
  await writeFile(config, lines.join('\n') + '\n');
  env.ROTATOR_CONFIG = config;
  return {
    ...(fx as Fixture),
    issued: () => issued,
    hookRuns: async () => (await readFile(`${hookSignal}.runs`, 'utf8').catch(() => '')).split('\n').filter(Boolean).length,
    close: async () => {
      await Promise.all(closers.map((c) => c()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface StoredCredential {
  credentials: Record<string, string>;
  providerRef: string;
  rotationId: string;
}

async function stage(fx: Fixture, which: 'current' | 'previous'): Promise<StoredCredential | undefined> {
  const run = await runCli(['get', 'app', '--stage', which, '--format', 'json'], fx.env);
  return run.code === 0 ? (JSON.parse(run.stdout) as StoredCredential) : undefined;
}

/** Whether the provider accepts `current` now: a real request signed or authenticated with it. */
async function validAtProvider(fx: Fixture, current: StoredCredential): Promise<boolean> {
  if (fx.ncp) {
    const uri = '/api/v1/caller-identity';
    const { accessKey, keySecret } = current.credentials as { accessKey: string; keySecret: string };
    const headers = signedHeaders({ method: 'GET', uri, timestamp: Date.now(), accessKey, secretKey: keySecret });
    return (await fetch(fx.ncp.url + uri, { headers })).status === 200;
  }
  const { clientId, clientSecret } = current.credentials as { clientId: string; clientSecret: string };
  const res = await fetch(`${fx.mcm!.url}/api/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return res.status === 200;
}

/** The trigger that kills the rotator at `step` (armed before it is spawned). */
function arm(fx: Fixture, step: StepName, vault: VaultName, previousRef: string | undefined): CrashTrigger {
  const who = () => victim;
  // NCP's verify is caller-identity signed by the new key (the master key never calls it).
  const isVerify = (e: { resource?: string }) => !fx.ncp || e.resource !== fx.ncpMaster!.accessKey;
  /** On verify's request in `phase`: kill then, or start `afterVerify`'s trigger instead. */
  const onVerify = (phase: 'received' | 'applied', afterVerify?: () => CrashTrigger): CrashTrigger => {
    let inner: CrashTrigger | undefined;
    let seen = false;
    let resolve!: (what: string) => void;
    const fired = new Promise<string>((r) => (resolve = r));
    const listener = async (e: { resource?: string }) => {
      if (seen || !victim || !isVerify(e)) return;
      seen = true;
      if (afterVerify) {
        inner = afterVerify();
        void inner.fired.then(resolve);
        return;
      }
      resolve(`verify ${phase}`);
      await killNow(victim);
    };
    const off = fx.ncp ? fx.ncp.on('callerIdentity', phase, listener) : fx.mcm!.on('token', phase, listener);
    return {
      fired,
      off: () => {
        off();
        inner?.off();
      },
    };
  };
  switch (step) {
    case 'after issue':
      return fx.ncp ? killOn(fx.ncp, 'createCredentials', 'applied', who) : killOn(fx.mcm!, 'createSecret', 'applied', who);
    case 'after pending write':
      if (vault === 'aws-secrets-manager') {
        return killOn(fx.sm!, 'PutSecretValue', 'applied', who, (e) => e.labels?.includes('AWSPENDING') ?? false);
      }
      return onVerify('received');
    case 'during verify':
      return onVerify('applied');
    case 'during promote':
      if (vault === 'aws-secrets-manager') {
        return killOn(fx.sm!, 'UpdateSecretVersionStage', 'applied', who, (e) => e.labels?.includes('AWSCURRENT') ?? false);
      }
      // The record file is renamed into place by the promotion, the first write after verify.
      return onVerify('applied', () => killOnFile(join(fx.dir, 'vault.json.d', 'keys'), 'app.rec', who));
    case 'during outputs': {
      let off = false;
      writeFileSync(`${fx.hookSignal}.armed`, '');
      const fired = (async () => {
        while (!victim && !off) await new Promise((r) => setTimeout(r, 10));
        if (off) return 'off';
        await fileAppears(fx.hookSignal, victim!);
        hookPid = Number((await readFile(fx.hookSignal, 'utf8')).trim());
        void killNow(victim!);
        return 'reload command running';
      })();
      return { fired, off: () => (off = true) };
    }
    case 'during revoke of previous':
      return killOn(fx.mcm!, 'deleteSecret', 'applied', who, (e) => e.resource === previousRef);
  }
}

test.each(CASES)(
  'killed $step ($provider × $vault): recovery keeps a valid current, no orphan, one credential issued',
  async ({ step, provider, vault }) => {
    const fx = (fixture = await setUp(provider, vault));
    // A first rotation: a current credential to keep (and, for MongoDB, a previous to revoke).
    const first = await runCli(['rotate', 'app'], fx.env);
    expect({ code: first.code, stderr: first.stderr }).toMatchObject({ code: 0 });
    const before = await stage(fx, 'current');
    expect(before).toBeDefined();
    const issuedBefore = fx.issued();

    const trigger = arm(fx, step, vault, before!.providerRef);
    victim = new Daemon(['rotate', 'app', '--force'], fx.env);
    const what = await Promise.race([trigger.fired, victim.exited.then((e) => `exited ${e.code ?? e.signal}`)]);
    trigger.off();
    const exit = await victim.exited;
    expect({ what, signal: exit.signal }).toEqual({ what: expect.not.stringMatching(/^exited/), signal: 'SIGKILL' });
    victim = undefined;
    tally.crashPoints++;

    const runsAtKill = await fx.hookRuns();
    const recovery = await runCli(['rotate', 'app', '--if-due'], fx.env);
    expect({ code: recovery.code, stderr: recovery.stderr }).toMatchObject({ code: 0 });
    // The interrupted reload command runs again for the new value.
    if (step === 'during outputs') expect(await fx.hookRuns()).toBeGreaterThan(runsAtKill);

    const status = JSON.parse((await runCli(['status', '--json'], fx.env)).stdout) as {
      secretId: string;
      pendingVersion?: string;
    }[];
    expect(status.find((s) => s.secretId === 'app')?.pendingVersion).toBeUndefined();
    const current = await stage(fx, 'current');
    const previous = await stage(fx, 'previous');
    expect(current).toBeDefined();
    const valid = await validAtProvider(fx, current!);
    if (!valid) tally.lost++;
    expect(valid).toBe(true);
    // Distribution caught up: the output holds the current credential.
    expect(JSON.parse(await readFile(fx.output, 'utf8'))).toMatchObject({ credentials: current!.credentials });

    if (fx.mcm) {
      const live = fx.mcm.secretsOf(fx.clientId!).map((s) => s.id);
      const known = [current!.providerRef, previous?.providerRef].filter(Boolean);
      const unknown = live.filter((id) => !known.includes(id));
      if (unknown.length > 0) tally.orphaned++;
      expect(unknown).toEqual([]);
      expect(live.length).toBeLessThanOrEqual(2);
    }
    const issued = fx.issued() - issuedBefore;
    if (issued > 1) tally.doubleIssued++;
    expect(issued).toBe(1);
    tally.recovered++;
  },
);

/**
 * The same crash with the file output written before the reload command. The files already hold
 * the new value, so comparing files cannot tell that the reload command never finished; the
 * distribution memo (src/distribute/memo.ts), written only after every output succeeded, still
 * names the previous version, so the one-off recovery (`rotate --if-due`) runs the command again.
 */
test('killed during a reload command that runs after the file output: the one-off recovery runs the command again', async () => {
  const fx = (fixture = await setUp('ncp-sts', 'file', { fileFirst: true }));
  expect((await runCli(['rotate', 'app'], fx.env)).code).toBe(0);
  const trigger = arm(fx, 'during outputs', 'file', undefined);
  victim = new Daemon(['rotate', 'app', '--force'], fx.env);
  expect(await Promise.race([trigger.fired, victim.exited.then(() => 'exited')])).toBe('reload command running');
  expect((await victim.exited).signal).toBe('SIGKILL');
  victim = undefined;
  const current = await stage(fx, 'current');
  expect(JSON.parse(await readFile(fx.output, 'utf8'))).toMatchObject({ credentials: current!.credentials });
  const runsAtKill = await fx.hookRuns();

  const recovery = await runCli(['rotate', 'app', '--if-due'], fx.env);
  expect({ code: recovery.code, stderr: recovery.stderr }).toMatchObject({ code: 0 });
  expect(await fx.hookRuns()).toBeGreaterThan(runsAtKill);
});
