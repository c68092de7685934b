import { parseTemplate, renderTemplate, templateProblems } from '../../src/distribute/template';
import { renderFileOutput } from '../../src/distribute/outputs';
import type { VaultValue } from '../../src/types';

const value: VaultValue = {
  provider: 'ncp-sts',
  secretId: 'dep',
  credentials: { accessKey: 'AK1', keySecret: 'SK1' },
  issuedAt: '2026-11-22T00:00:00.000Z',
  expiresAt: '2026-11-22T03:00:00.000Z',
  providerRef: 'AK1',
  rotationId: 'r1',
  switchedRole: { roleNrn: 'nrn:x', sessionName: 's' },
};
const FIELDS = ['accessKey', 'keySecret'];

describe('renderTemplate', () => {
  test.each([
    ['{{credentials.accessKey}}', 'AK1'],
    ['{{ credentials.keySecret }}', 'SK1'],
    ['{{accessKey}}', 'AK1'],
    ['key={{credentials.accessKey}}\nexp={{expiresAt}}\n', 'key=AK1\nexp=2026-11-22T03:00:00.000Z\n'],
    ['{{secretId}}/{{provider}}/{{providerRef}}/{{rotationId}}/{{issuedAt}}', 'dep/ncp-sts/AK1/r1/2026-11-22T00:00:00.000Z'],
    ['{{switchedRole.roleNrn}}', 'nrn:x'],
    ['no placeholders', 'no placeholders'],
    ['', ''],
  ])('%j', (template, expected) => {
    expect(renderTemplate(template, value)).toBe(expected);
  });

  test.each([
    ['{{credentials.nope}}', /\{\{credentials\.nope\}\} names no field of 'dep' \(credential fields: accessKey, keySecret\)/],
    ['{{nope}}', /\{\{nope\}\} names no field/],
    ['{{switchedRole}}', /is not a single value/],
    ['{{credentials.accessKey}', /unclosed/],
    ['{{ a b }}', /not a field path/],
  ])('%j is an error, never an empty substitution', (template, message) => {
    expect(() => renderTemplate(template, value)).toThrow(message);
  });

  test('an error names the placeholder, never a value', () => {
    expect(() => renderTemplate('{{credentials.accessKey}} {{nope}}', value)).toThrow(
      /^template placeholder \{\{nope\}\} names no field of 'dep' \(credential fields: accessKey, keySecret\)$/,
    );
  });
});

describe('templateProblems (config time)', () => {
  test.each([
    ['{{credentials.accessKey}} {{expiresAt}}', FIELDS, []],
    ['{{credentials.secretKey}}', FIELDS, [/no credential field 'secretKey' \(it has accessKey, keySecret/]],
    ['{{secretKey}}', FIELDS, [/no credential field 'secretKey'/]],
    ['{{secretKey}}', undefined, []],
    ['{{credentials}}', FIELDS, [/write \{\{credentials.<field>\}\}/]],
    ['{{a b}}', undefined, [/not a field path/]],
    ['x }} y', undefined, [/unclosed or unopened/]],
    ['{{switchedRole.roleNrn}}', FIELDS, []],
  ])('%j', (template, fields, expected) => {
    const problems = templateProblems(template, fields);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((re, i) => expect(problems[i]).toMatch(re));
  });

  test.each([
    ['newline', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['NUL', 'a\u0000b'],
    ['escape', 'a\u001bb'],
    ['DEL', 'a\u007fb'],
    ['line separator', 'a\u2028b'],
  ])('a value with a %s is refused unescaped, naming the placeholder and never the value', (_name, secret) => {
    const v = { ...value, credentials: { ...value.credentials, keySecret: secret } };
    expect(() => renderTemplate('k={{credentials.keySecret}}', v)).toThrow(
      /\{\{credentials\.keySecret\}\}: the value of 'dep' holds a newline or another control character.*\{\{json credentials\.keySecret\}\}/,
    );
    try {
      renderTemplate('k={{credentials.keySecret}}', v);
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });

  test.each([
    ['{{json credentials.keySecret}}', '"a\\nb\\"c"'],
    ['{{ json keySecret }}', '"a\\nb\\"c"'],
    ['{{shell credentials.keySecret}}', "'a\nb\"c'"],
    ['{{json expiresAt}}', '"2026-11-22T03:00:00.000Z"'],
  ])('%j declares an escaping: the value is inserted escaped', (template, expected) => {
    const v = { ...value, credentials: { ...value.credentials, keySecret: 'a\nb"c' } };
    expect(renderTemplate(template, v)).toBe(expected);
  });

  test('an escaping of an unknown field is still a config problem', () => {
    expect(templateProblems('{{json credentials.nope}}', FIELDS)).toEqual([expect.stringMatching(/no credential field 'nope'/)]);
    expect(templateProblems('{{yaml credentials.keySecret}}', FIELDS)).toEqual([expect.stringMatching(/not a field path/)]);
  });

  test('parseTemplate splits text and placeholders', () => {
    expect(parseTemplate('a{{x}}b')).toEqual({ parts: [{ text: 'a' }, { path: 'x' }, { text: 'b' }] });
  });
});

describe('renderFileOutput', () => {
  const env: [string, string][] = [
    ['NCLOUD_ACCESS_KEY', 'AK1'],
    ['NCLOUD_SECRET_KEY', 'SK1'],
  ];
  test.each([
    ['env', undefined, 'NCLOUD_ACCESS_KEY=AK1\nNCLOUD_SECRET_KEY=SK1\n'],
    ['json', undefined, `${JSON.stringify(value, null, 2)}\n`],
    ['template', '[{{credentials.accessKey}}]', '[AK1]'],
  ] as const)('%s', (format, template, expected) => {
    const output = { type: 'file' as const, path: '/x', format, mode: 0o600, ...(template ? { template } : {}) };
    expect(renderFileOutput(output, value, env)).toBe(expected);
  });
});
