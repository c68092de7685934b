import { z } from 'zod';
import { nonEmpty, show, unknownKeysMessage } from '../fields';
import { isBase32 } from '../../src/totp';
import { numericStringToNumber } from '../kit/spec';

/**
 * Config schemas of the ncp-sts provider. Strict objects: a typo in a key is an error, not a
 * silently ignored setting. Every message says what is allowed, because config/ shows it to the
 * operator with the file, line and key.
 */

export const DEFAULT_ENDPOINT = 'https://sts.apigw.ntruss.com';
export const MIN_DURATION_SEC = 600;
export const MAX_DURATION_SEC = 43_200;
export const DEFAULT_DURATION_SEC = 3600;

/** `nrn:<partition>:IAM::<account id>:Role/<role name>`, e.g. nrn:PUB:IAM::1234567:Role/deployer. */
export const ROLE_NRN_PATTERN = /^nrn:([A-Za-z0-9-]+):IAM::(\d+):Role\/([A-Za-z0-9_+=,.@-]+)$/;

const CREDENTIAL_KEYS = ['accessKey', 'secretKey'] as const;

export const credentialsSchema = z.strictObject(
  {
    accessKey: nonEmpty('accessKey', 'the access key of an NCP sub-account with STS permission'),
    secretKey: nonEmpty('secretKey', 'the secret key paired with accessKey'),
  },
  { error: unknownKeysMessage(CREDENTIAL_KEYS) },
);

const durationMessage = (issue: { input?: unknown }) =>
  `durationSec must be an integer from ${MIN_DURATION_SEC} to ${MAX_DURATION_SEC} seconds (got ${show(issue.input)})`;

const durationSec = z
  .preprocess(
    numericStringToNumber,
    z.number({ error: durationMessage }).refine((n) => Number.isInteger(n) && n >= MIN_DURATION_SEC && n <= MAX_DURATION_SEC, {
      error: durationMessage,
    }),
  )
  .default(DEFAULT_DURATION_SEC);

const roleNrn = z
  .string({ error: 'roleNrn must be a string like nrn:PUB:IAM::<account id>:Role/<role name>' })
  .regex(ROLE_NRN_PATTERN, {
    error: (issue) => `roleNrn must look like nrn:PUB:IAM::<account id digits>:Role/<role name> (got ${show(issue.input)})`,
  });

const endpoint = z
  .url({
    protocol: /^https?$/,
    error: (issue) => `endpoint must be an http(s) URL such as ${DEFAULT_ENDPOINT} (got ${show(issue.input)})`,
  })
  .overwrite((url) => url.replace(/\/+$/, ''))
  .default(DEFAULT_ENDPOINT);

/** A 6-digit OTP. YAML reads 012345 as the number 12345, so numbers are zero-padded back. */
const tokenCode = z.preprocess(
  (value) => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value).padStart(6, '0') : value),
  z.string({ error: 'tokenCode must be a 6-digit one-time code' }).regex(/^\d{6}$/, {
    error: (issue) => `tokenCode must be a 6-digit one-time code (got ${show(issue.input)})`,
  }),
);

const totpSeed = z.string({ error: 'totpSeed must be a base32 string (the MFA device seed)' }).refine(isBase32, {
  error: 'totpSeed must be base32 (letters A-Z and digits 2-7), the seed shown when the MFA device was registered',
});

const PARAM_KEYS = ['durationSec', 'roleNrn', 'endpoint', 'serialNumber', 'tokenCode', 'totpSeed'] as const;

export const paramsSchema = z
  .strictObject(
    {
      durationSec,
      /** Present: switch-role mode (POST /api/v1/switch-role). */
      roleNrn: roleNrn.optional(),
      endpoint,
      /** The MFA device NRN; required with tokenCode or totpSeed. */
      serialNumber: nonEmpty('serialNumber', 'the NRN of the MFA device').optional(),
      /** A fixed code: only useful for a one-off `rotator rotate`, codes expire after 30 s. */
      tokenCode: tokenCode.optional(),
      /** RFC 6238 seed (secret): codes are computed at issue time from the injected clock. */
      totpSeed: totpSeed.optional(),
    },
    { error: unknownKeysMessage(PARAM_KEYS) },
  )
  .superRefine((params, ctx) => {
    if ((params.tokenCode !== undefined || params.totpSeed !== undefined) && params.serialNumber === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['serialNumber'],
        message: 'serialNumber (the MFA device NRN) is required when tokenCode or totpSeed is set',
      });
    }
    if (params.serialNumber !== undefined && params.tokenCode === undefined && params.totpSeed === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['serialNumber'],
        message: 'serialNumber (the MFA device NRN) needs a code source: set totpSeed (recommended) or tokenCode',
      });
    }
    if (params.tokenCode !== undefined && params.totpSeed !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenCode'],
        message: 'set either tokenCode or totpSeed, not both (totpSeed computes a fresh code at each issue)',
      });
    }
  });

export type NcpCredentials = z.output<typeof credentialsSchema>;
export type NcpParams = z.output<typeof paramsSchema>;
