/**
 * The bad-input corpus (issue 10, "Prove it"): what a careless or hostile user, service or disk
 * can hand rotator, as data. Each case says what the user must see: the exit code and a fragment
 * of the message that tells them what to fix. The runner (bad-input.test.ts) also checks that
 * the vault is byte-identical afterwards (or holds only a resumable pending version) and that no
 * secret reached the output.
 *
 * Placeholders in config text: {{URL}} is the hostile fake NCP STS server on loopback.
 */

export type Kind = 'config' | 'usage' | 'answer' | 'vault' | 'output';

/** How the fake server answers one endpoint. `good` is a valid answer. */
export type Answer =
  | { kind: 'good' }
  | { kind: 'status'; status: number; body: string; contentType?: string; retryAfter?: string }
  | { kind: 'credentials'; body: Record<string, unknown> | unknown[] | string | number | null }
  | { kind: 'raw'; body: string }
  | { kind: 'bomb' }
  | { kind: 'huge' }
  | { kind: 'drop' };

/** A change to the seeded vault before the case runs (paths relative to the state folder). */
export type VaultChange =
  | { kind: 'overwrite-records'; content: string }
  | { kind: 'truncate-records'; bytes: number }
  | { kind: 'records-to-dir' }
  | { kind: 'store-to-file' };

export interface BadInputCase {
  name: string;
  kind: Kind;
  /** Config text; default BASE_CONFIG. */
  config?: string;
  /** CLI arguments after `rotator -c <config>`; default `rotate ncp`. */
  args?: string[];
  /** Replaces variables of the default environment (undefined removes one). */
  env?: Record<string, string | undefined>;
  issue?: Answer;
  identity?: Answer;
  vault?: VaultChange;
  /** -c given a path instead of the config file ({{DIR}} = the case folder). */
  configPath?: string;
  exit: number;
  message: string;
}

export const SECRET_BLOCK = (params = 'durationSec: 3600, endpoint: "{{URL}}"', extra = '') => `  - id: ncp
    provider: ncp-sts
    credentials: { accessKey: \${NCP_ACCESS_KEY}, secretKey: \${NCP_SECRET_KEY} }
    params: { ${params} }
${extra}`;

export const BASE_CONFIG = `vault: { type: file, path: state/vault.json }
secrets:
${SECRET_BLOCK()}`;

const withTop = (top: string) => `${top}\n${BASE_CONFIG}`;
const withVault = (vault: string) => `vault: ${vault}\nsecrets:\n${SECRET_BLOCK()}`;
const withParams = (params: string) => `vault: { type: file, path: state/vault.json }\nsecrets:\n${SECRET_BLOCK(params)}`;
const withSecretLine = (line: string) =>
  `vault: { type: file, path: state/vault.json }\nsecrets:\n${SECRET_BLOCK(undefined, `    ${line}\n`)}`;
const withOutputs = (...outputs: string[]) => withSecretLine(`outputs:\n${outputs.map((o) => `      - ${o}`).join('\n')}`);

const CONFIG = 2;
const FAILED = 1;

const config = (name: string, text: string, message: string): BadInputCase => ({
  name,
  kind: 'config',
  config: text,
  exit: CONFIG,
  message,
});
const output = (name: string, text: string, message: string): BadInputCase => ({
  name,
  kind: 'output',
  config: text,
  exit: CONFIG,
  message,
});

const configCases: BadInputCase[] = [
  config('empty file', '', 'empty'),
  config('comments only', '# nothing here\n', 'empty'),
  config('a scalar root', 'just a string\n', 'mapping'),
  config('a list root', '- a\n- b\n', 'mapping'),
  config('unclosed quote', 'vault: { type: file, path: "state/vault.json }\n', 'closing "quote'),
  config('unclosed flow mapping', 'vault: { type: file\nsecrets: []\n', 'flow map'),
  config('tab indentation', 'vault:\n\ttype: file\n', 'tabs'),
  config('duplicate key', `vault: { type: file, path: a }\n${BASE_CONFIG}`, 'keys must be unique'),
  config(
    'billion laughs aliases',
    `a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n${BASE_CONFIG}`,
    'alias',
  ),
  config('__proto__ key', withTop('__proto__: { polluted: true }'), '__proto__'),
  config('unknown top-level key', withTop('vaults: {}'), 'vaults'),
  config('no secrets key', 'vault: { type: file, path: state/vault.json }\n', 'secrets'),
  config('secrets not a list', 'vault: { type: file, path: state/vault.json }\nsecrets: ncp\n', 'secrets'),
  config('schedule not cron', withTop('schedule: "every minute"'), 'schedule'),
  config('schedule with 7 fields', withTop('schedule: "* * * * * * *"'), 'schedule'),
  config('schedule minute 61', withTop('schedule: "61 * * * *"'), 'schedule'),
  config('concurrency 0', withTop('concurrency: 0'), 'concurrency'),
  config('concurrency negative', withTop('concurrency: -3'), 'concurrency'),
  config('concurrency a word', withTop('concurrency: many'), 'concurrency'),
  config('concurrency fraction', withTop('concurrency: 1.5'), 'concurrency'),
  config('shutdownTimeout a word', withTop('shutdownTimeout: forever'), 'shutdownTimeout'),
  config('shutdownTimeout negative', withTop('shutdownTimeout: -5s'), 'shutdownTimeout'),
  config('shutdownTimeout 20 digits', withTop('shutdownTimeout: 99999999999999999999s'), 'shutdownTimeout'),
  config('defaults.renewBefore 150%', withTop('defaults: { renewBefore: 150% }'), 'renewBefore'),
  config('defaults.renewBefore 0%', withTop('defaults: { renewBefore: 0% }'), 'renewBefore'),
  config('defaults.renewBefore negative', withTop('defaults: { renewBefore: -10% }'), 'renewBefore'),
  config('defaults.renewBefore a word', withTop('defaults: { renewBefore: soon }'), 'renewBefore'),
  config('defaults.renewBefore 20 digits', withTop('defaults: { renewBefore: 99999999999999999999m }'), 'renewBefore'),
  config('defaults.jitter 200%', withTop('defaults: { jitter: 200% }'), 'jitter'),
  config('defaults.jitter a word', withTop('defaults: { jitter: lots }'), 'jitter'),
  config('defaults unknown key', withTop('defaults: { renewbefore: 10% }'), 'renewbefore'),
  config('http port 70000', withTop('http: { port: 70000 }'), 'port'),
  config('http port negative', withTop('http: { port: -1 }'), 'port'),
  config('http port a word', withTop('http: { port: web }'), 'port'),
  config('vault type s3', withVault('{ type: s3, path: state/vault.json }'), 'type'),
  config('vault missing type', withVault('{ path: state/vault.json }'), 'type'),
  config('vault empty path', withVault('{ type: file, path: "" }'), 'path'),
  config('vault history negative', withVault('{ type: file, path: state/vault.json, history: -1 }'), 'history'),
  config('vault history a word', withVault('{ type: file, path: state/vault.json, history: all }'), 'history'),
  config('vault unknown key', withVault('{ type: file, path: state/vault.json, colour: red }'), 'colour'),
  config('vault not a mapping', withVault('state/vault.json'), 'vault'),
  config(
    'duplicate secret id',
    `vault: { type: file, path: state/vault.json }\nsecrets:\n${SECRET_BLOCK()}${SECRET_BLOCK()}`,
    'ncp',
  ),
  config('id with a slash', BASE_CONFIG.replace('id: ncp', 'id: ../ncp'), 'id'),
  config('id empty', BASE_CONFIG.replace('id: ncp', 'id: ""'), 'id'),
  config('id with spaces', BASE_CONFIG.replace('id: ncp', 'id: "my secret"'), 'id'),
  config('id missing', BASE_CONFIG.replace('id: ncp', 'name: ncp'), 'id'),
  config('provider unknown', BASE_CONFIG.replace('provider: ncp-sts', 'provider: ncp-ststs'), 'ncp-ststs'),
  config('provider missing', BASE_CONFIG.replace('provider: ncp-sts', 'kind: ncp-sts'), 'provider'),
  config('credentials missing', BASE_CONFIG.replace(/ {4}credentials:.*\n/, ''), 'credentials'),
  config('credentials secretKey missing', BASE_CONFIG.replace(', secretKey: ${NCP_SECRET_KEY}', ''), 'secretKey'),
  config(
    'credentials unknown key',
    BASE_CONFIG.replace('secretKey: ${NCP_SECRET_KEY}', 'secretKey: ${NCP_SECRET_KEY}, token: x'),
    'token',
  ),
  config('credentials a string', BASE_CONFIG.replace(/credentials: \{.*\}/, 'credentials: ${NCP_SECRET_KEY}'), 'credentials'),
  config('unset variable', BASE_CONFIG.replace('${NCP_SECRET_KEY}', '${NCP_SECRET_KEY_TYPO}'), 'NCP_SECRET_KEY_TYPO'),
  config(
    'unterminated variable',
    BASE_CONFIG.replace('${NCP_SECRET_KEY}', '${NCP_SECRET_KEY'),
    'quote values that use variables',
  ),
  config('durationSec below minimum', withParams('durationSec: 10, endpoint: "{{URL}}"'), 'durationSec'),
  config('durationSec above maximum', withParams('durationSec: 9999999, endpoint: "{{URL}}"'), 'durationSec'),
  config('durationSec a word', withParams('durationSec: hour, endpoint: "{{URL}}"'), 'durationSec'),
  config('durationSec fraction', withParams('durationSec: 3600.5, endpoint: "{{URL}}"'), 'durationSec'),
  config('endpoint ftp', withParams('durationSec: 3600, endpoint: "ftp://127.0.0.1/"'), 'endpoint'),
  config('endpoint not a URL', withParams('durationSec: 3600, endpoint: "not a url"'), 'endpoint'),
  config('unknown param', withParams('durationSec: 3600, endpoint: "{{URL}}", duration: 60'), 'duration'),
  config('roleNrn malformed', withParams('durationSec: 3600, endpoint: "{{URL}}", roleNrn: "admin"'), 'roleNrn'),
  config('secret renewBefore 150%', withSecretLine('renewBefore: 150%'), 'renewBefore'),
  config('secret renewBefore 20 digits', withSecretLine('renewBefore: 99999999999999999999s'), 'renewBefore'),
  config('secret jitter 101%', withSecretLine('jitter: 101%'), 'jitter'),
  config('secret unknown key', withSecretLine('renew: 10%'), 'renew'),
  config('secret window malformed', withSecretLine('window: "whenever"'), 'window'),
  config('outputs not a list', withSecretLine('outputs: out/ncp.env'), 'outputs'),
];

const outputCases: BadInputCase[] = [
  output('output onto the vault file', withOutputs('{ type: file, path: state/vault.json, format: env }'), 'vault'),
  output('output onto the vault key file', withOutputs('{ type: file, path: state/vault.json.key, format: env }'), 'vault'),
  output('output inside the vault store', withOutputs('{ type: file, path: state/vault.json.d/ncp, format: env }'), 'vault'),
  output('output onto the vault via ..', withOutputs('{ type: file, path: out/../state/vault.json, format: env }'), 'vault'),
  output('output onto the config file', withOutputs('{ type: file, path: rotator.config.yaml, format: env }'), 'config'),
  output(
    'two outputs on one path',
    withOutputs('{ type: file, path: out/a.env, format: env }', '{ type: file, path: out/./a.env, format: env }'),
    'out/a.env',
  ),
  output('output type ftp', withOutputs('{ type: ftp, path: out/a.env }'), 'type'),
  output('output format xml', withOutputs('{ type: file, path: out/a.env, format: xml }'), 'format'),
  output('output mode a word', withOutputs('{ type: file, path: out/a.env, format: env, mode: rw }'), 'mode'),
  output('output mode 9999', withOutputs('{ type: file, path: out/a.env, format: env, mode: "9999" }'), 'mode'),
  output('output empty path', withOutputs('{ type: file, path: "", format: env }'), 'path'),
  output('template format without template', withOutputs('{ type: file, path: out/a.txt, format: template }'), 'template'),
  output(
    'template unknown field',
    withOutputs('{ type: file, path: out/a.txt, format: template, template: "{{nope}}" }'),
    'nope',
  ),
  output(
    'template unclosed',
    withOutputs('{ type: file, path: out/a.txt, format: template, template: "{{accessKey" }'),
    'template',
  ),
  output('command with empty run', withOutputs('{ type: command, run: "" }'), 'run'),
  output('command timeout negative', withOutputs('{ type: command, run: "true", timeout: -1s }'), 'timeout'),
  output('command timeout a word', withOutputs('{ type: command, run: "true", timeout: long }'), 'timeout'),
  output('output unknown key', withOutputs('{ type: file, path: out/a.env, format: env, owner: root }'), 'owner'),
];

const usageCases: BadInputCase[] = [
  { name: 'rotate without ids', kind: 'usage', args: ['rotate'], exit: CONFIG, message: '--all' },
  { name: 'rotate an unknown id', kind: 'usage', args: ['rotate', 'nope'], exit: CONFIG, message: 'nope' },
  { name: 'get an unknown id', kind: 'usage', args: ['get', 'nope'], exit: CONFIG, message: 'nope' },
  { name: 'get an unknown field', kind: 'usage', args: ['get', 'ncp', '--field', 'nope'], exit: CONFIG, message: 'nope' },
  { name: 'get in format xml', kind: 'usage', args: ['get', 'ncp', '--format', 'xml'], exit: CONFIG, message: 'xml' },
  { name: 'exec without a command', kind: 'usage', args: ['exec', 'ncp'], exit: CONFIG, message: 'command' },
  { name: 'unknown command', kind: 'usage', args: ['rotato'], exit: CONFIG, message: 'rotato' },
  { name: 'unknown option', kind: 'usage', args: ['rotate', 'ncp', '--forse'], exit: CONFIG, message: '--forse' },
  { name: 'log level loud', kind: 'usage', args: ['--log-level', 'loud', 'status'], exit: CONFIG, message: 'loud' },
  {
    name: 'ROTATOR_LOG_LEVEL loud',
    kind: 'usage',
    args: ['status'],
    env: { ROTATOR_LOG_LEVEL: 'loud' },
    exit: CONFIG,
    message: 'ROTATOR_LOG_LEVEL',
  },
  { name: 'master secret unset', kind: 'usage', env: { NCP_SECRET_KEY: undefined }, exit: CONFIG, message: 'NCP_SECRET_KEY' },
  { name: '-c /dev/zero', kind: 'usage', configPath: '/dev/zero', exit: CONFIG, message: 'regular file' },
  { name: '-c a missing file', kind: 'usage', configPath: '{{DIR}}/missing.yaml', exit: CONFIG, message: 'missing.yaml' },
  { name: '-c a folder', kind: 'usage', configPath: '{{DIR}}', exit: CONFIG, message: 'is a directory, not a config file' },
  {
    name: 'vault key too short',
    kind: 'usage',
    env: { ROTATOR_VAULT_KEY: 'abc' },
    args: ['get', 'ncp'],
    exit: CONFIG,
    message: 'ROTATOR_VAULT_KEY',
  },
  {
    name: 'vault key of another vault',
    kind: 'vault',
    env: { ROTATOR_VAULT_KEY: 'b'.repeat(64) },
    args: ['get', 'ncp'],
    exit: FAILED,
    message: 'key',
  },
  {
    name: 'rotate with another vault key',
    kind: 'vault',
    env: { ROTATOR_VAULT_KEY: 'b'.repeat(64) },
    exit: FAILED,
    message: 'key',
  },
];

const vaultCases: BadInputCase[] = (['get', 'status', 'rotate'] as const).flatMap((command) => {
  const args = command === 'status' ? ['status'] : [command, 'ncp'];
  const v = (name: string, vault: VaultChange, message: string, exit = FAILED): BadInputCase => ({
    name: `${command}: ${name}`,
    kind: 'vault',
    args,
    vault,
    exit,
    message,
  });
  return [
    v('record overwritten with garbage', { kind: 'overwrite-records', content: 'garbage' }, 'vault'),
    v('record overwritten with JSON that is not a record', { kind: 'overwrite-records', content: '{"hello":1}' }, 'vault'),
    v('record truncated', { kind: 'truncate-records', bytes: 40 }, 'vault'),
    v('record empty', { kind: 'truncate-records', bytes: 0 }, 'vault'),
    v('record replaced by a folder', { kind: 'records-to-dir' }, 'vault'),
    v('store folder replaced by a file', { kind: 'store-to-file' }, 'not a folder', CONFIG),
  ];
});

/** A valid issue answer but for one field (times relative to now, seconds). */
const creds = (patch: Record<string, unknown>) => ({ kind: 'credentials' as const, body: { ...GOOD, ...patch } });
const GOOD = { accessKey: 'STSHOSTILE1', keySecret: '{{SECRET}}', createTime: '{{NOW}}', expireTime: '{{NOW+3600}}' };

const answer = (name: string, issue: Answer, message: string, identity?: Answer): BadInputCase => ({
  name,
  kind: 'answer',
  issue,
  ...(identity ? { identity } : {}),
  exit: FAILED,
  message,
});

const STATUSES = [400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503, 504];
const ERROR_BODIES: Record<string, { body: string; contentType?: string }> = {
  // A server echoing the master secret key in an error: quoted excerpts must still be scrubbed.
  'json error echoing the master key': { body: '{"error":{"errorCode":"E1","message":"bad key {{MASTER}}"}}' },
  html: { body: '<html><body>Bad Gateway</body></html>', contentType: 'text/html' },
  empty: { body: '' },
};

const answerCases: BadInputCase[] = [
  ...STATUSES.flatMap((status) =>
    Object.entries(ERROR_BODIES).map(([what, b]) =>
      answer(`issue answers ${status} with ${what} body`, { kind: 'status', status, ...b }, String(status)),
    ),
  ),
  answer('429 with Retry-After: 3600', { kind: 'status', status: 429, body: '{}', retryAfter: '3600' }, '429'),
  answer(
    '503 with a Retry-After date',
    { kind: 'status', status: 503, body: '{}', retryAfter: 'Wed, 21 Oct 2099 07:28:00 GMT' },
    '503',
  ),
  answer('connection dropped', { kind: 'drop' }, 'NCP STS'),
  answer('a gzip bomb', { kind: 'bomb' }, 'bytes'),
  answer('a 2 MiB answer', { kind: 'huge' }, 'bytes'),
  answer(
    'truncated JSON holding the secret',
    { kind: 'raw', body: '{"accessKey":"STSHOSTILE1","keySecret":"{{SECRET}}' },
    'NCP STS',
  ),
  answer('empty 200', { kind: 'raw', body: '' }, 'NCP STS'),
  answer('HTML 200', { kind: 'raw', body: '<html>ok</html>' }, 'NCP STS'),
  answer('null', { kind: 'credentials', body: null }, 'NCP STS'),
  answer('a list', { kind: 'credentials', body: [GOOD] }, 'NCP STS'),
  answer('a number', { kind: 'credentials', body: 42 }, 'NCP STS'),
  answer('an empty object', { kind: 'credentials', body: {} }, 'keySecret'),
  answer('keySecret missing', creds({ keySecret: undefined }), 'keySecret'),
  answer('keySecret empty', creds({ keySecret: '' }), 'keySecret'),
  answer('keySecret a number', creds({ keySecret: 12345678 }), 'keySecret'),
  answer('accessKey missing', creds({ accessKey: undefined }), 'accessKey'),
  answer('accessKey an object', creds({ accessKey: { a: 1 } }), 'accessKey'),
  answer('expireTime missing', creds({ expireTime: undefined }), 'expireTime'),
  answer('expireTime garbage', creds({ expireTime: 'tomorrow' }), 'expireTime'),
  answer('expireTime 1e20', creds({ expireTime: 1e20 }), 'expireTime'),
  answer('expireTime in the past', creds({ expireTime: '{{NOW-3600}}' }), 'expire'),
  answer('expireTime before createTime', creds({ createTime: '{{NOW+7200}}' }), 'expire'),
  answer('expireTime 5 s away', creds({ expireTime: '{{NOW+5}}' }), 'expire'),
  answer('expireTime in year 9999', creds({ expireTime: '9999-12-31T00:00:00Z' }), 'expire'),
  answer('createTime garbage', creds({ createTime: 'yesterday' }), 'createTime'),
  answer('createTime a boolean', creds({ createTime: true }), 'createTime'),
  answer('verify refused with 401', { kind: 'good' }, 'verif', { kind: 'status', status: 401, body: '{}' }),
  answer('verify refused with 403', { kind: 'good' }, 'verif', { kind: 'status', status: 403, body: '{}' }),
  answer('verify answers 500', { kind: 'good' }, 'verif', { kind: 'status', status: 500, body: '{}' }),
  answer('verify connection dropped', { kind: 'good' }, 'verif', { kind: 'drop' }),
];

export const CASES: BadInputCase[] = [...configCases, ...outputCases, ...usageCases, ...vaultCases, ...answerCases];
