/**
 * The files that run rotator as a service: the systemd unit is checked by systemd itself
 * (`systemd-analyze verify` and its offline security review), the Kubernetes manifests against
 * the Kubernetes API schemas (kubernetes-models), and every rotator config they embed by
 * `rotator validate`. The container recipe cannot be built here (no Docker daemon): its static
 * promises (base image, non-root user, the binary as entrypoint, no local vault in the build
 * context) are checked instead.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config';
import { configDir, runCli } from '../support/cli';
import { ConfigMap, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CronJob } from 'kubernetes-models/batch/v1';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const UNIT = join(ROOT, 'deploy/systemd/rotator.service');
const KUBE = join(ROOT, 'deploy/kubernetes');
/** Dummy master credentials: validation checks they are set, never uses them. */
const MASTER_ENV = { NCP_ACCESS_KEY: 'dummy-access-key', NCP_SECRET_KEY: 'dummy-secret-key' };

/** `Key=value` settings of a unit file's [Service] section; repeated keys keep every value. */
function serviceSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    settings.set(line.slice(0, eq), [...(settings.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

const one = (settings: Map<string, string[]>, key: string): string => {
  const values = settings.get(key) ?? [];
  expect({ key, values: values.length }).toEqual({ key, values: 1 });
  return values[0]!;
};

async function exitOf(file: string, args: string[], cwd: string) {
  try {
    const { stdout, stderr } = await run(file, args, { cwd });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('systemd unit', () => {
  const unitText = readFileSync(UNIT, 'utf8');
  const settings = serviceSettings(unitText);
  const execStart = one(settings, 'ExecStart').split(/\s+/);
  let root: string;

  // systemd-analyze checks that ExecStart's binary exists, so it runs on a root holding the
  // unit, a stand-in for the installed `rotator` and the host's own system units.
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'rotator-systemd-'));
    const systemUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')));
    if (!systemUnits) throw new Error('systemd unit files not found: apt-get install systemd (as .ci/run does)');
    cpSync(systemUnits, join(root, 'usr/lib/systemd/system'), { recursive: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    cpSync(UNIT, join(root, 'etc/systemd/system/rotator.service'));
    mkdirSync(join(root, posix.dirname(execStart[0]!)), { recursive: true });
    writeFileSync(join(root, execStart[0]!), '#!/bin/sh\n');
    chmodSync(join(root, execStart[0]!), 0o755);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('systemd-analyze verify accepts it without a warning', async () => {
    const result = await exitOf('systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'rotator.service'], root);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test("systemd's offline security review rates its exposure at most 2.0 of 10", async () => {
    const result = await exitOf(
      'systemd-analyze',
      ['security', '--offline=yes', '--threshold=20', `--root=${root}`, 'rotator.service'],
      root,
    );
    expect({
      code: result.code,
      verdict: /Overall exposure level for rotator\.service: [\d.]+/.exec(result.stdout)?.[0],
    }).toEqual({
      code: 0,
      verdict: expect.any(String),
    });
  });

  test('runs `rotator run` directly (not npx), hardened, restarted on failure, credentials from a file', () => {
    expect(execStart[0]).toMatch(/^\/.*\/rotator$/);
    expect(execStart[1]).toBe('run');
    expect(unitText).not.toMatch(/^ExecStart=.*npx/m);
    expect(one(settings, 'DynamicUser')).toBe('yes');
    expect(one(settings, 'ProtectSystem')).toBe('strict');
    expect(one(settings, 'NoNewPrivileges')).toBe('yes');
    expect(one(settings, 'Restart')).toBe('on-failure');
    expect(one(settings, 'EnvironmentFile')).toMatch(/^\/etc\/rotator\//);
    expect(settings.has('MemoryDenyWriteExecute')).toBe(false); // V8's JIT needs W+X pages
  });

  test('its config validates, and the vault and file outputs lie where the unit lets it write', async () => {
    const configPath = execStart[execStart.indexOf('--config') + 1]!;
    expect(configPath).toBe('/etc/rotator/rotator.config.yaml');
    const file = join(ROOT, 'deploy/systemd/rotator.config.yaml');
    const result = await runCli(['validate', '-c', file], MASTER_ENV);
    expect(result).toEqual({ code: 0, stdout: `${file}: ok (1 secret, vault file)\n`, stderr: '' });

    const writable = [
      ...(settings.get('ReadWritePaths') ?? []).flatMap((v) => v.split(/\s+/)),
      ...(settings.get('StateDirectory') ?? []).map((d) => `/var/lib/${d}`),
      ...(settings.get('RuntimeDirectory') ?? []).map((d) => `/run/${d}`),
    ];
    const config = loadConfig(file, { env: MASTER_ENV });
    const written = [
      config.vault.type === 'file' ? config.vault.path : '',
      ...config.secrets.flatMap((s) => s.outputs.flatMap((o) => (o.type === 'file' ? [o.path] : []))),
    ];
    for (const path of written)
      expect({ path, writable: writable.some((dir) => path.startsWith(`${dir}/`)) }).toEqual({ path, writable: true });
    // The unit's stop timeout leaves room for the config's graceful shutdown.
    expect(config.shutdownTimeoutMs).toBeLessThan(parseInt(one(settings, 'TimeoutStopSec'), 10) * 1000);
  });
});

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, any>;
  data?: Record<string, string>;
}

/** The API schema of each kind the manifests use, by `apiVersion kind`. */
const MODELS: Record<string, (new (data: never) => { validate(): void }) | undefined> = {
  'v1 ConfigMap': ConfigMap,
  'v1 ServiceAccount': ServiceAccount,
  'apps/v1 Deployment': Deployment,
  'batch/v1 CronJob': CronJob,
};

describe('Kubernetes manifests', () => {
  const files = readdirSync(KUBE).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const objects: KubeObject[] = files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(KUBE, f), 'utf8')).map((doc) => {
      expect(doc.errors).toEqual([]);
      return doc.toJS() as KubeObject;
    }),
  );
  const find = (kind: string) => objects.find((o) => o.kind === kind)!;
  const configMap = find('ConfigMap');
  const deployment = find('Deployment');
  const cronJob = find('CronJob');
  const podOf = (o: KubeObject) => (o.kind === 'CronJob' ? o.spec!.jobTemplate.spec.template.spec : o.spec!.template.spec);

  test('every object is valid against the Kubernetes API schema', () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'CronJob', 'Deployment', 'ServiceAccount']);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion} ${o.kind}`];
      expect({ kind: o.kind, known: Model !== undefined }).toEqual({ kind: o.kind, known: true });
      expect(() => new Model!(o as never).validate()).not.toThrow();
    }
  });

  test('the kustomization applies every manifest', () => {
    const kustomization = parseYaml(readFileSync(join(KUBE, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual([...files].sort());
  });

  test("the ConfigMap's rotator config passes `rotator validate` with the AWS vault", async () => {
    const keys = Object.keys(configMap.data!);
    expect(keys).toEqual(['rotator.config.yaml']);
    const dir = await configDir(configMap.data!['rotator.config.yaml']!);
    try {
      const result = await runCli(['validate', '-c', dir.file], MASTER_ENV);
      expect(result).toEqual({ code: 0, stdout: `${dir.file}: ok (1 secret, vault aws-secrets-manager)\n`, stderr: '' });
    } finally {
      await dir.cleanup();
    }
  });

  test.each([
    ['Deployment', 'run'],
    ['CronJob', 'rotate --all --if-due'],
  ])('the %s runs `rotator %s` as non-root on the mounted ConfigMap config', (kind, words) => {
    const command = words.split(' ');
    const pod = podOf(find(kind));
    const [container] = pod.containers;
    expect(container.command).toBeUndefined(); // the image's entrypoint: rotator itself, not npx
    expect(container.args.slice(0, command.length)).toEqual(command);
    const configPath: string = container.args[container.args.indexOf('--config') + 1];
    const volume = pod.volumes.find((v: any) => v.configMap?.name === configMap.metadata.name);
    const mount = container.volumeMounts.find((m: any) => m.name === volume.name);
    expect(configPath).toBe(posix.join(mount.mountPath, 'rotator.config.yaml'));
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
  });

  test('the Deployment runs two replicas whose probes and port are the config’s http listener', () => {
    expect(deployment.spec!.replicas).toBe(2);
    const [container] = podOf(deployment).containers;
    const http = (parseYaml(configMap.data!['rotator.config.yaml']!) as { http: { port: number } }).http;
    expect(container.ports).toEqual([{ name: 'http', containerPort: http.port }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  test('the CronJob never overlaps itself', () => {
    expect(cronJob.spec!.concurrencyPolicy).toBe('Forbid');
  });
});

describe('container recipe (not buildable here: no Docker daemon)', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'));

  test('every stage is node:20-slim; the final one runs as a non-root user with rotator as its entrypoint', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^FROM node:20-slim\b/);
    const final = instructions.slice(instructions.lastIndexOf(froms[froms.length - 1]!));
    expect(final.filter((l) => l.startsWith('USER ')).pop()).toMatch(/^USER (?!root\b|0\b)\w+/);
    expect(final.filter((l) => l.startsWith('ENTRYPOINT ')).pop()).toBe('ENTRYPOINT ["rotator"]');
  });

  test('.dockerignore keeps local vaults, their keys, node_modules and git out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.rotator', '**/.rotator', 'node_modules', '.git', 'dist']) expect(ignored).toContain(entry);
  });
});
