import { createLogger, memoryLogger, parseLogFormat, serializeError } from '../../src/log';
import { secrets, Secret } from '../../src/redact';
import { RotatorError } from '../../src/errors';
import { inspect } from 'node:util';
import { Writable } from 'node:stream';

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

describe('log formats operators expect', () => {
  /** A destination that keeps what was written; `isTTY` says whether it looks like a terminal. */
  function sink(isTTY: boolean) {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk.toString('utf8'));
        done();
      },
    });
    return Object.assign(stream, { isTTY, text: () => chunks.join('') });
  }

  test('JSON lines carry an ISO 8601 time and the level as a word', () => {
    const out = sink(false);
    createLogger({ format: 'json', destination: out }).warn({ secretId: 's1' }, 'hello');
    const line = JSON.parse(out.text().trim());
    expect(line).toMatchObject({ level: 'warn', msg: 'hello', secretId: 's1' });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(new Date(line.time).toISOString()).toBe(line.time);
  });

  test('pretty lines are readable text, not JSON, and still scrubbed', () => {
    const out = sink(false);
    secrets.add('pretty-secret-value-7');
    createLogger({ format: 'pretty', destination: out }).error({ note: 'pretty-secret-value-7' }, 'boom');
    expect(out.text()).toMatch(/ERROR.*boom/);
    expect(() => JSON.parse(out.text())).toThrow();
    expect(out.text()).not.toContain('pretty-secret-value-7');
  });

  test.each([
    [true, 'pretty'],
    [false, 'json'],
  ])('the default format for a destination with isTTY=%s is %s', (isTTY, expected) => {
    const out = sink(isTTY);
    createLogger({ destination: out }).info({}, 'x');
    const isJson = out.text().trim().startsWith('{');
    expect(isJson ? 'json' : 'pretty').toBe(expected);
  });

  test('JSON logging does not load pino-pretty; pretty logging does', () => {
    jest.isolateModules(() => {
      jest.doMock('pino-pretty', () => {
        throw new Error('pino-pretty was loaded');
      });
      const isolated = jest.requireActual<typeof import('../../src/log')>('../../src/log');
      expect(() => isolated.createLogger({ format: 'json', destination: sink(false) }).info({}, 'x')).not.toThrow();
      expect(() => isolated.createLogger({ format: 'pretty', destination: sink(false) })).toThrow(/pino-pretty was loaded/);
    });
  });

  test('--log-format values are checked with a message naming the accepted ones', () => {
    expect(parseLogFormat('json')).toBe('json');
    expect(parseLogFormat('pretty')).toBe('pretty');
    expect(() => parseLogFormat('xml')).toThrow('--log-format must be one of json, pretty (got "xml")');
  });
});
