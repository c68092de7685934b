import { SecretRegistry, inheritableEnv } from '../../src/redact';

describe('inheritableEnv: what a child process (exec, reload hook) inherits', () => {
  const registry = new SecretRegistry();
  registry.add('master-secret-key-value', 'issued-credential-value');
  test.each([
    ['ordinary variables pass', { PATH: '/usr/bin', HOME: '/home/app' }, { PATH: '/usr/bin', HOME: '/home/app' }],
    ['the vault key never does', { PATH: '/bin', ROTATOR_VAULT_KEY: 'k'.repeat(64) }, { PATH: '/bin' }],
    [
      'a variable holding a registered secret (a master credential) does not',
      { NCP_SECRET_KEY: 'master-secret-key-value', LANG: 'C' },
      { LANG: 'C' },
    ],
    ['whatever its name', { SOMETHING: 'issued-credential-value' }, {}],
    [
      'a value that only contains a secret is not an exact match and passes',
      { NOTE: 'x master-secret-key-value y' },
      { NOTE: 'x master-secret-key-value y' },
    ],
  ])('%s', (_title, env, expected) => {
    expect(inheritableEnv(env, registry)).toEqual(expected);
  });
});
