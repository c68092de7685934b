import { credentialsSchema, paramsSchema } from '../../providers/ncp-sts/schema';

const SERIAL = 'nrn:PUB:IAM::1234567:MfaDevice/ops';
const SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

function messages(input: unknown): string[] {
  const result = paramsSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('ncp-sts params', () => {
  it('fills defaults', () => {
    expect(paramsSchema.parse({})).toEqual({ durationSec: 3600, endpoint: 'https://sts.apigw.ntruss.com' });
  });

  it.each([
    ['the minimum', { durationSec: 600 }, { durationSec: 600 }],
    ['the maximum', { durationSec: 43200 }, { durationSec: 43200 }],
    ['a numeric string from ${ENV}', { durationSec: '3600' }, { durationSec: 3600 }],
    ['a role', { roleNrn: 'nrn:PUB:IAM::1234567:Role/deployer' }, { roleNrn: 'nrn:PUB:IAM::1234567:Role/deployer' }],
    ['an endpoint with a trailing slash', { endpoint: 'http://127.0.0.1:8080/' }, { endpoint: 'http://127.0.0.1:8080' }],
    ['a tokenCode number (YAML drops the leading zero)', { serialNumber: SERIAL, tokenCode: 12345 }, { tokenCode: '012345' }],
    ['a tokenCode string', { serialNumber: SERIAL, tokenCode: '654321' }, { tokenCode: '654321' }],
    ['a TOTP seed', { serialNumber: SERIAL, totpSeed: SEED }, { totpSeed: SEED }],
  ])('accepts %s', (_name, input, expected) => {
    expect(paramsSchema.parse(input)).toMatchObject(expected);
  });

  it.each([
    ['599', { durationSec: 599 }, 'durationSec: durationSec must be an integer from 600 to 43200 seconds (got 599)'],
    ['43201', { durationSec: 43201 }, 'durationSec: durationSec must be an integer from 600 to 43200 seconds (got 43201)'],
    ['a fraction', { durationSec: 3600.5 }, 'durationSec: durationSec must be an integer from 600 to 43200 seconds (got 3600.5)'],
    ['a word', { durationSec: 'hour' }, 'durationSec: durationSec must be an integer from 600 to 43200 seconds (got "hour")'],
    [
      'a bad roleNrn',
      { roleNrn: 'arn:aws:iam::1:role/x' },
      'roleNrn: roleNrn must look like nrn:PUB:IAM::<account id digits>:Role/<role name> (got "arn:aws:iam::1:role/x")',
    ],
    [
      'a roleNrn with a non-numeric account',
      { roleNrn: 'nrn:PUB:IAM::acct:Role/x' },
      'roleNrn: roleNrn must look like nrn:PUB:IAM::<account id digits>:Role/<role name> (got "nrn:PUB:IAM::acct:Role/x")',
    ],
    [
      'tokenCode without serialNumber',
      { tokenCode: '123456' },
      'serialNumber: serialNumber (the MFA device NRN) is required when tokenCode or totpSeed is set',
    ],
    [
      'totpSeed without serialNumber',
      { totpSeed: SEED },
      'serialNumber: serialNumber (the MFA device NRN) is required when tokenCode or totpSeed is set',
    ],
    [
      'serialNumber without tokenCode or totpSeed',
      { serialNumber: SERIAL },
      'serialNumber: serialNumber (the MFA device NRN) needs a code source: set totpSeed (recommended) or tokenCode',
    ],
    [
      'both tokenCode and totpSeed',
      { serialNumber: SERIAL, tokenCode: '123456', totpSeed: SEED },
      'tokenCode: set either tokenCode or totpSeed, not both (totpSeed computes a fresh code at each issue)',
    ],
    [
      'a 5-digit tokenCode string',
      { serialNumber: SERIAL, tokenCode: '12345' },
      'tokenCode: tokenCode must be a 6-digit one-time code (got "12345")',
    ],
    ['a seed that is not base32', { serialNumber: SERIAL, totpSeed: 'not-base32!' }, 'totpSeed: totpSeed must be base32'],
    ['an ftp endpoint', { endpoint: 'ftp://example.com' }, 'endpoint: endpoint must be an http(s) URL'],
    [
      'an unknown key',
      { durationSec: 3600, duration: 3600 },
      ': unknown key(s) duration; allowed: durationSec, roleNrn, endpoint, serialNumber, tokenCode, totpSeed',
    ],
  ])('rejects %s', (_name, input, expected) => {
    const found = messages(input);
    expect(found.some((m) => m.startsWith(expected))).toBe(true);
  });
});

describe('ncp-sts credentials', () => {
  it('accepts an access key and secret key', () => {
    expect(credentialsSchema.parse({ accessKey: 'a', secretKey: 'b' })).toEqual({ accessKey: 'a', secretKey: 'b' });
  });

  it.each([
    ['an empty accessKey', { accessKey: '', secretKey: 'b' }, /accessKey must not be empty/],
    ['a missing secretKey', { accessKey: 'a' }, /secretKey must be a string/],
    [
      'an unknown key',
      { accessKey: 'a', secretKey: 'b', region: 'KR' },
      /unknown key\(s\) region; allowed: accessKey, secretKey/,
    ],
  ])('rejects %s', (_name, input, expected) => {
    const result = credentialsSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('\n')).toMatch(expected);
  });
});
