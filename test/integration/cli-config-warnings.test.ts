/**
 * Config warnings outside `validate`: a command that changes state (`rotate`, here a dry run)
 * logs each warning once, with file:line, and never the credential it is about; a reader
 * (`get`) stays quiet so scripts that parse its output see only the value.
 */
import { runCli, configDir } from '../support/cli';

const LITERAL = 'literal-secret-key-0001';
const CONFIG = `vault: { type: file, path: vault/vault.json }
secrets:
  - id: deployer
    provider: ncp-sts
    credentials: { accessKey: AKID-literal, secretKey: ${LITERAL} }
`;
const ENV = { ROTATOR_VAULT_KEY: 'e'.repeat(64) };

let dir: Awaited<ReturnType<typeof configDir>>;
beforeEach(async () => {
  dir = await configDir(CONFIG);
});
afterEach(() => dir.cleanup());

test('rotate logs the configuration warnings validate prints, with file:line and no credential', async () => {
  const validate = await runCli(['validate', '-c', dir.file], ENV);
  expect(validate.stderr).toContain(`${dir.file}:5:`);
  const run = await runCli(['rotate', 'deployer', '--dry-run', '-c', dir.file], ENV);
  expect(run.code).toBe(0);
  expect(run.stderr).toContain('configuration warning');
  expect(run.stderr).toContain(`${dir.file}:5:`);
  expect(run.stderr).toContain('master credentials belong in the environment');
  expect(run.stderr).not.toContain(LITERAL);
});

test('get stays quiet about configuration warnings', async () => {
  const run = await runCli(['get', 'deployer', '-c', dir.file], ENV);
  expect(run.stderr).not.toContain('configuration warning');
});
