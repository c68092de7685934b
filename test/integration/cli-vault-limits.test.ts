/**
 * `rotator validate` with a secret renewing faster than the AWS vault allows: a warning on
 * stderr naming file:line, the secret, its interval and the vault's minimum, and exit 0 (a
 * warning never fails validate). The vault is never opened: validate only reads the config.
 */
import { runCli, configDir } from '../support/cli';

const CONFIG = `vault:
  type: aws-secrets-manager
  region: us-east-1
defaults: { renewBefore: 33%, jitter: 10% }
secrets:
  - id: hourly
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
  - id: fast
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { durationSec: 900 }
`;

const ENV = { NCP_ACCESS_KEY: 'AKID-cli-limits', NCP_SECRET_KEY: 'cli-limits-secret-0001' };

let dir: Awaited<ReturnType<typeof configDir>>;
beforeEach(async () => {
  dir = await configDir(CONFIG);
});
afterEach(() => dir.cleanup());

test('validate warns about a secret renewing below the aws-secrets-manager minimum and exits 0', async () => {
  const run = await runCli(['validate', '-c', dir.file], ENV);
  expect(run.code).toBe(0);
  expect(run.stdout).toBe(`${dir.file}: ok (2 secrets, vault aws-secrets-manager)\n`);
  expect(run.stderr).toBe(
    `warning: ${dir.file}:9:5 secrets[1]: 'fast' renews every 603s (durationSec gives a 15m lifetime, renewBefore takes 297s), ` +
      "below the aws-secrets-manager vault's 15m minimum: every rotation writes a Secrets Manager version, AWS keeps versions " +
      'younger than 24h and allows about 100 per secret; raise durationSec or lower renewBefore\n',
  );
  expect(run.stderr).not.toContain(ENV.NCP_SECRET_KEY);
});

test('validate -o json lists the warning', async () => {
  const run = await runCli(['validate', '-c', dir.file, '-o', 'json'], ENV);
  expect(run.code).toBe(0);
  const out = JSON.parse(run.stdout) as { warnings: string[] };
  expect(out.warnings).toEqual([expect.stringContaining("secrets[1]: 'fast' renews every 603s")]);
});
