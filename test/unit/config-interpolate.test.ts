import { interpolate, SANDBOX_PLACEHOLDER_PREFIX, hasSandboxPlaceholder } from '../../config/interpolate';

const env = { HOST: 'db.local', PORT: '5432', EMPTY: '', NESTED: '${HOST}', YAMLISH: 'x\nvault: {type: evil}' };

describe('interpolate', () => {
  test.each([
    ['no variables', 'plain', 'plain'],
    ['one variable', '${HOST}', 'db.local'],
    ['inside text', 'postgres://${HOST}:${PORT}/app', 'postgres://db.local:5432/app'],
    ['default when unset', '${MISSING:-fallback}', 'fallback'],
    ['default when empty (shell :-)', '${EMPTY:-fallback}', 'fallback'],
    ['empty default', '${MISSING:-}', ''],
    ['set beats default', '${HOST:-other}', 'db.local'],
    ['set but empty is a value', '${EMPTY}', ''],
    ['$${ is a literal ${', 'cost: $${HOST}', 'cost: ${HOST}'],
    ['a lone $ is literal', 'price $5 and $HOST', 'price $5 and $HOST'],
    ['values are not interpolated again', '${NESTED}', '${HOST}'],
    ['values may hold YAML: it stays text', '${YAMLISH}', 'x\nvault: {type: evil}'],
    ['a default may hold colons and slashes', '${MISSING:-http://a:1/b}', 'http://a:1/b'],
  ])('%s', (_name, text, expected) => {
    const result = interpolate(text, env);
    expect(result.unset).toEqual([]);
    expect(result.malformed).toBeUndefined();
    expect(result.value).toBe(expected);
  });

  test('records where each value came from', () => {
    expect(interpolate('${HOST}${MISSING:-x}', env).uses).toEqual([
      { name: 'HOST', source: 'env' },
      { name: 'MISSING', source: 'default' },
    ]);
    expect(interpolate('literal', env).uses).toEqual([]);
  });

  test('lists every unset variable', () => {
    expect(interpolate('${A}-${HOST}-${B}', env).unset).toEqual(['A', 'B']);
  });

  test.each(['${}', '${1X}', '${HOST', '${HO-ST}', '${HOST:default}'])('%j is malformed', (text) => {
    expect(interpolate(text, env).malformed).toMatch(/^malformed variable reference: write \$\{NAME\}/);
  });

  test('sandbox fills unset variables with a recognisable placeholder', () => {
    const result = interpolate('${A}/${HOST}', env, { sandbox: true });
    expect(result.unset).toEqual([]);
    expect(result.value).toBe(`${SANDBOX_PLACEHOLDER_PREFIX}A/db.local`);
    expect(result.uses[0]).toEqual({ name: 'A', source: 'placeholder' });
    expect(hasSandboxPlaceholder(result.value)).toBe(true);
  });

  test('inherited object properties are not variables', () => {
    expect(interpolate('${toString}', {}).unset).toEqual(['toString']);
  });
});
