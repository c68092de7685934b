import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseYamlFast } from '../../config/yaml-fast';
import { parseYamlTree } from '../../config/yaml-tree';

/**
 * The fast parse (js-yaml) stands in for the precise one (yaml, with positions) whenever it
 * returns a tree, so it must give the same value and the same variable uses, and it must decline
 * every text the precise path reports a problem for.
 */
const ROOT = resolve(__dirname, '../..');
const ENV = {
  NCP_ACCESS_KEY: 'AKID-test',
  NCP_SECRET_KEY: 'secret-0001',
  MCM_PUBLIC_KEY: 'mcm-public',
  MCM_PRIVATE_KEY: 'mcm-private',
  EMPTY: '',
  YAMLISH: '{ a: [1, *x] }\n- b',
};

const files = [
  ...readdirSync(join(ROOT, 'test/fixtures/config'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join('test/fixtures/config', f)),
  ...readdirSync(join(ROOT, 'config/examples')).map((f) => join('config/examples', f)),
  'rotator.config.yaml',
];

/** Scalars where YAML 1.1, js-yaml's defaults and YAML 1.2 core disagree, and other corners. */
const SNIPPETS: Record<string, string> = {
  'numbers and words': `v: [0o17, 0x1F, 1_000, 0b11, +12, -0, 1e3, .5, 1., .inf, -.Inf, .NaN, 012, 1:30, 12:30:00, 1.0e+3, +.5, 9007199254740993, 0x]\n`,
  'null and bool spellings': `v: [~, null, Null, NULL, nULL, TRUE, True, tRUE, yes, no, on, off, y, n]\n`,
  'dates stay strings': `v: 2024-01-01\nw: 2024-01-01T10:00:00Z\n`,
  'quoted scalars stay strings': `v: ["12", '0x1', "true", 'null', "\\u00e9\\x41\\t", 'it''s']\n`,
  'block scalars': `a: |\n  line one\n  line two\nb: >-\n  folded\n  text\nc: |+\n  keep\n\nd: 1\n`,
  'multi-line plain': `a: one\n  two\n  three\nb: "x\n  y"\n`,
  'scalar keys': `1: a\ntrue: b\n1.50: c\n0x10: d\n"quoted": e\n? plain\n: f\n`,
  'null key': `null: a\n`,
  'empty key': `: a\n`,
  'empty values': `a:\nb: ~\nc: []\nd: {}\ne: ""\n`,
  variables: 'a: ${NCP_ACCESS_KEY}\nb: "x-${EMPTY:-dflt}-y"\nc: $${literal}\nd: { k: ${NCP_SECRET_KEY} }\ne: ${YAMLISH}\n',
  'unset variable': 'a: ${NOT_SET_ANYWHERE}\n',
  'malformed variable': 'a: ${1BAD}\n',
  'duplicate keys': `a: 1\na: 2\n`,
  'two documents': `a: 1\n---\nb: 2\n`,
  'document markers': `---\na: 1\n...\n`,
  'anchor and alias': `a: &x 1\nb: *x\n`,
  tags: `a: !!str 1\nb: !custom x\n`,
  directive: `%YAML 1.1\n---\na: yes\n`,
  'proto key': `__proto__: { polluted: true }\n`,
  'constructor key': `constructor: 1\ntoString: 2\n`,
  'tab indentation': `a:\n\tb: 1\n`,
  'bad indentation': `a:\n  b: 1\n c: 2\n`,
  'implicit key over lines': `a\nb: 1\n`,
  'unclosed flow': `a: [1, 2\n`,
  comments: `# top\na: 1 # trailing\nb: "#not"\n`,
  'deep nesting': `${'['.repeat(40)}${']'.repeat(40)}\n`,
  'shield characters': `a: "\uE000"\n`,
  'windows line ends': `a: 1\r\nb: two\r\n`,
  'flow map in list': `- { id: a, n: 1 }\n- [x, { y: z }]\n`,
  'collection keys': `{ [a, b]: 1, { c: d }: 2 }\n`,
  'collection key over lines': `{ [a,\n b]: 1 }\n`,
  'explicit collection key': `? [a, b]\n: 1\n`,
  'anchored map': `a: &m { x: 1 }\nb: 2\n`,
  'explicit core tags': `a: !!str 1\nb: !!map { x: 1 }\nc: !!seq [1]\nd: !<tag:rotator,core:3> 5\n`,
  'custom tag': `a: !custom x\n`,
  'non-specific tag': `a: ! 12\n`,
  'cron schedule': `schedule: "*/5 * * * *"\nother: '* * * * *'\nplain: a*b!c&d\n`,
};

const cases: [string, string][] = [
  ...files.map((f): [string, string] => [f, readFileSync(join(ROOT, f), 'utf8')]),
  ...Object.entries(SNIPPETS),
];

describe('parseYamlFast', () => {
  test.each(cases)('%s: same value and variable uses as the precise parse, or declines', (_name, text) => {
    for (const sandbox of [false, true]) {
      const precise = parseYamlTree(text, ENV, { sandbox });
      const fast = parseYamlFast(text, ENV, { sandbox });
      if (fast === undefined) continue;
      expect(precise.problems).toEqual([]);
      expect(fast.value).toEqual(precise.value);
      expect([...fast.strings].sort()).toEqual([...precise.strings].sort());
    }
  });

  test('takes the fast path for ordinary files (else the comparison above proves nothing)', () => {
    const taken = cases.filter(([, text]) => parseYamlFast(text, ENV) !== undefined).map(([name]) => name);
    expect(taken).toEqual(
      expect.arrayContaining([
        'test/fixtures/config/basic.yaml',
        'config/examples/minimal.yaml',
        'numbers and words',
        'variables',
        'block scalars',
        'cron schedule',
        'flow map in list',
      ]),
    );
  });

  test.each([
    'unset variable',
    'malformed variable',
    'duplicate keys',
    'two documents',
    'anchor and alias',
    'tags',
    'directive',
    'proto key',
    'null key',
    'empty key',
    'deep nesting',
    'shield characters',
    'unclosed flow',
    'collection keys',
    'explicit collection key',
    'collection key over lines',
    'anchored map',
    'explicit core tags',
    'custom tag',
  ])('declines %s (the precise path reports it, or reads it differently)', (name) => {
    expect(parseYamlFast(SNIPPETS[name]!, ENV)).toBeUndefined();
  });

  test('plain scalars resolve as YAML 1.2 core: no 1.1 booleans, underscores, binary or dates', () => {
    const fast = parseYamlFast(SNIPPETS['numbers and words']! + SNIPPETS['null and bool spellings']!.replace('v:', 'w:'), ENV);
    const { v, w } = fast!.value as { v: unknown[]; w: unknown[] };
    expect(v.slice(0, 4)).toEqual([15, 31, '1_000', '0b11']);
    expect(w).toEqual([null, null, null, null, 'nULL', true, true, 'tRUE', 'yes', 'no', 'on', 'off', 'y', 'n']);
    expect((parseYamlFast(SNIPPETS['dates stay strings']!, ENV)!.value as { v: unknown }).v).toBe('2024-01-01');
  });
});
