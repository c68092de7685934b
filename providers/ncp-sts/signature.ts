import { createHmac } from 'node:crypto';

/** The header names of NCP API Gateway signature v2. */
export const HEADER_TIMESTAMP = 'x-ncp-apigw-timestamp';
export const HEADER_ACCESS_KEY = 'x-ncp-iam-access-key';
export const HEADER_SIGNATURE = 'x-ncp-apigw-signature-v2';

/** The gateway rejects a request whose timestamp is this far or farther from its own clock. */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;

export interface SignV2Input {
  /** HTTP method; upper-cased before signing. */
  method: string;
  /** Path plus query string (with `?`), without scheme or host, exactly as sent on the wire. */
  uri: string;
  /** Epoch milliseconds, as sent in `x-ncp-apigw-timestamp`. */
  timestamp: number | string;
  accessKey: string;
  secretKey: string;
}

/**
 * Signature v2: Base64(HMAC-SHA256(key = secretKey,
 * msg = METHOD + " " + URI + "\n" + timestamp + "\n" + accessKey)). The body is not signed.
 * The result is a credential in itself (valid for 5 minutes): never log it.
 */
export function signV2(input: SignV2Input): string {
  const message = `${input.method.toUpperCase()} ${input.uri}\n${input.timestamp}\n${input.accessKey}`;
  return createHmac('sha256', input.secretKey).update(message, 'utf8').digest('base64');
}

/**
 * The four headers every NCP API request carries. `timestamp` comes from the caller's injected
 * clock so tests can move time; the same value is signed and sent.
 */
export function signedHeaders(input: SignV2Input): Record<string, string> {
  return {
    [HEADER_TIMESTAMP]: String(input.timestamp),
    [HEADER_ACCESS_KEY]: input.accessKey,
    [HEADER_SIGNATURE]: signV2(input),
    'Content-Type': 'application/json',
  };
}
