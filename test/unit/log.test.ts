import { memoryLogger, serializeError } from '../../src/log';
import { secrets, Secret } from '../../src/redact';
import { RotatorError } from '../../src/errors';
import { inspect } from 'node:util';

const SIGNATURE = 'c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw==';

/** What an axios error carries: its toJSON includes the request config with headers and body. */
function axiosLikeError(): Error {
  const err = new Error('Request failed with status code 401');
  Object.assign(err, {
    code: 'ERR_BAD_REQUEST',
    config: { headers: { 'x-ncp-apigw-signature-v2': SIGNATURE }, data: '{"tokenCode":123456}' },
    toJSON: () => ({ message: err.message, config: { headers: { 'x-ncp-apigw-signature-v2': SIGNATURE } } }),
  });
  return err;
}

describe('logging never prints secrets', () => {
  test('foreign errors are reduced to type, message and code', () => {
    const log = memoryLogger();
    log.error({ err: axiosLikeError() }, 'a');
    log.error({ error: axiosLikeError() }, 'b');
    expect(log.text()).not.toContain(SIGNATURE);
    expect(log.text()).toContain('ERR_BAD_REQUEST');
    expect(serializeError(axiosLikeError())).toEqual({
      type: 'Error',
      message: 'Request failed with status code 401',
      code: 'ERR_BAD_REQUEST',
    });
  });

  test('our own errors keep code and details, without the cause chain', () => {
    const err = new RotatorError('PROVIDER_AUTH', 'nope', { cause: axiosLikeError(), details: { status: 401, traceId: 't1' } });
    expect(JSON.stringify(serializeError(err))).toBe(
      JSON.stringify({ code: 'PROVIDER_AUTH', message: 'nope', retryable: false, status: 401, traceId: 't1' }),
    );
  });

  test.each([
    ['top level', { keySecret: 'kS-1234567890' }],
    ['two deep', { a: { b: { secretKey: 'kS-1234567890' } } }],
    ['four deep', { state: { current: { value: { credentials: { keySecret: 'kS-1234567890' } } } } }],
    ['headers map', { request: { headers: { authorization: 'Digest kS-1234567890' } } }],
  ])('known secret keys are censored: %s', (_name, obj) => {
    const log = memoryLogger();
    log.info(obj, 'x');
    expect(log.text()).not.toContain('kS-1234567890');
    expect(log.text()).toContain('[REDACTED]');
  });

  test('registered secret values are scrubbed wherever they appear, even in messages', () => {
    const log = memoryLogger();
    secrets.add('registered-value-42');
    log.warn({ note: 'prefix registered-value-42 suffix' }, 'also in the message: registered-value-42');
    expect(log.text()).not.toContain('registered-value-42');
  });

  test('Secret prints as [REDACTED] everywhere but reveal()', () => {
    const s = new Secret('wrapped-secret-99');
    expect(String(s)).toBe('[REDACTED]');
    expect(JSON.stringify({ s })).toBe('{"s":"[REDACTED]"}');
    expect(inspect({ s })).not.toContain('wrapped-secret-99');
    expect(s.reveal()).toBe('wrapped-secret-99');
  });
});
