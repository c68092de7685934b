/**
 * How AWS Secrets Manager failures become rotator errors, decided once at the SDK seam:
 * throttling, 5xx and network failures are retryable VAULT_UNAVAILABLE; access problems name the
 * IAM actions needed; the three answers the vault steers by are typed {@link AwsRefusal}s.
 */
import { RotatorError } from '../../errors';
import { secrets as processSecrets } from '../../redact';

/** The IAM actions this vault needs, for AccessDenied messages and the README. */
export const REQUIRED_IAM_ACTIONS = [
  'secretsmanager:CreateSecret',
  'secretsmanager:DescribeSecret',
  'secretsmanager:GetSecretValue',
  'secretsmanager:BatchGetSecretValue',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecretVersionStage',
  'secretsmanager:ListSecrets',
  'secretsmanager:TagResource',
  'secretsmanager:UntagResource',
];

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const AUTH_FAILURES = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
]);

/**
 * The answers the vault steers by, mapped once at the seam from AWS's error names: the secret
 * (or version) does not exist; the name or ClientRequestToken is taken (with another value);
 * a parameter was refused (for UpdateSecretVersionStage: the label is not where the request
 * said, i.e. the compare-and-swap failed). Every other failure is a plain RotatorError.
 */
export type AwsRefusal = 'not-found' | 'exists' | 'invalid-parameter';

const REFUSALS: Readonly<Record<string, AwsRefusal>> = {
  ResourceNotFoundException: 'not-found',
  ResourceExistsException: 'exists',
  InvalidParameterException: 'invalid-parameter',
};

/** A refusal the caller is expected to branch on; a RotatorError (not retryable) if it does not. */
export class AwsRefusedError extends RotatorError {
  constructor(
    readonly refusal: AwsRefusal,
    message: string,
    options: ConstructorParameters<typeof RotatorError>[2],
  ) {
    super('VAULT_UNAVAILABLE', message, options);
  }
}

/** The refusal `err` carries, if it is one. */
export function refusalOf(err: unknown): AwsRefusal | undefined {
  return err instanceof AwsRefusedError ? err.refusal : undefined;
}

/**
 * Maps an SDK error to a RotatorError: throttling, 5xx and network failures are retryable
 * VAULT_UNAVAILABLE; access problems name the IAM actions needed. Messages carry the AWS error
 * type, the operation and the secret name, never a value.
 */
export function mapAwsError(err: unknown, operation: string, name: string, region?: string): RotatorError {
  if (err instanceof RotatorError) return err;
  const e = (err ?? {}) as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number; requestId?: string };
    $retryable?: unknown;
    code?: string;
  };
  const type = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const where = `AWS Secrets Manager ${operation} on ${name}${region ? ` (${region})` : ''}`;
  const details = {
    awsType: type,
    ...(status ? { status } : {}),
    ...(e.$metadata?.requestId ? { requestId: e.$metadata.requestId } : {}),
  };
  const said = e.message ? `: ${processSecrets.scrub(e.message).slice(0, 300)}` : '';
  const opts = (retryable: boolean) => ({ plugin: 'aws-secrets-manager', retryable, cause: err, details });
  const refusal = REFUSALS[type];
  if (refusal) return new AwsRefusedError(refusal, `${where} failed with ${type}${said}`, opts(false));
  if (type === 'CredentialsProviderError') {
    return new RotatorError(
      'VAULT_UNAVAILABLE',
      `${where}: no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role`,
      opts(false),
    );
  }
  if (AUTH_FAILURES.has(type) || status === 403) {
    return new RotatorError(
      'VAULT_UNAVAILABLE',
      `${where} was refused (${type})${said}. The credentials need ${REQUIRED_IAM_ACTIONS.join(', ')} on arn:aws:secretsmanager:*:*:secret:<prefix>*` +
        ' (and kms:Encrypt/kms:Decrypt/kms:GenerateDataKey on kmsKeyId when set)',
      opts(false),
    );
  }
  if (THROTTLING.has(type) || status === 429 || (status !== undefined && status >= 500) || e.$retryable) {
    return new RotatorError(
      'VAULT_UNAVAILABLE',
      `${where} failed with ${type}${status ? ` (HTTP ${status})` : ''}; will retry`,
      opts(true),
    );
  }
  if (status === undefined) {
    // No HTTP answer: connection refused or dropped, timeout, DNS.
    return new RotatorError('VAULT_UNAVAILABLE', `${where} got no answer (${e.code ?? type}); will retry`, opts(true));
  }
  if (type === 'LimitExceededException') {
    return new RotatorError(
      'VAULT_UNAVAILABLE',
      `${where} failed with ${type}${said} (AWS keeps at most 100 versions per secret and deletes deprecated ones after 24 hours: rotate this secret less often)`,
      opts(false),
    );
  }
  if (type === 'DecryptionFailure' || type === 'EncryptionFailure') {
    return new RotatorError(
      'VAULT_UNAVAILABLE',
      `${where} failed with ${type}${said}: check the KMS key and the kms: permissions`,
      opts(false),
    );
  }
  return new RotatorError(
    'VAULT_UNAVAILABLE',
    `${where} failed with ${type}${status ? ` (HTTP ${status})` : ''}${said}`,
    opts(false),
  );
}

export function conflict(message: string): RotatorError {
  return new RotatorError('VAULT_CONFLICT', message, { plugin: 'aws-secrets-manager' });
}

export function sameTokenConflict(key: string, rotationId: string): RotatorError {
  return conflict(`rotation ${rotationId} already stored a different value for ${key}; use a new rotation id`);
}
