import { Document, LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode, YAMLMap, YAMLSeq } from 'yaml';
import { interpolate } from './interpolate';
import type { InterpolationOptions, VariableUse } from './interpolate';
import { formatKeyPath } from './problems';
import type { ConfigProblem, KeyPath } from './problems';

/**
 * YAML text → a plain value (objects, arrays, strings, numbers, booleans, null) with every
 * string scalar interpolated, plus where each key path is written. The loader validates the
 * plain value with zod and maps zod's paths back to lines through `positions`.
 */

/** Alias expansions allowed per file, as yaml's own `maxAliasCount` default. Bounds the work a
 * hostile file can cause ("billion laughs": aliases of aliases of aliases…) to ~100× its size. */
export const MAX_ALIAS_EXPANSIONS = 100;
/** Nesting deeper than this is not a rotator config; refusing it keeps recursion bounded. */
export const MAX_DEPTH = 32;

export interface Position {
  line: number;
  column: number;
}

/** A problem before the file name is attached. */
export type TreeProblem = Omit<ConfigProblem, 'file'>;

export interface YamlTree {
  /** The document as plain data; undefined when the file holds no document. */
  value: unknown;
  /**
   * Key path (formatKeyPath) → where it is written: the key of a map entry, the start of a
   * list item, 1:1 for the root. Errors about a value point here, as an editor would.
   */
  positions: Map<string, Position>;
  /** String scalar path → the variables it used (empty: literal text in the file). */
  strings: Map<string, VariableUse[]>;
  problems: TreeProblem[];
}

interface Walk {
  doc: Document;
  lines: LineCounter;
  env: Readonly<Record<string, string | undefined>>;
  options: InterpolationOptions;
  aliases: number;
  /** Collections being converted right now: an alias to one of them is a cycle. */
  expanding: Set<unknown>;
  positions: Map<string, Position>;
  spans: { path: string; start: number; end: number }[];
  strings: Map<string, VariableUse[]>;
  problems: TreeProblem[];
}

export function parseYamlTree(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  options: InterpolationOptions = {},
): YamlTree {
  const lines = new LineCounter();
  const doc = parseDocument(shieldReferences(text), {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
    version: '1.2',
    schema: 'core',
    merge: false,
  });
  const walk: Walk = {
    doc,
    lines,
    env,
    options,
    aliases: 0,
    expanding: new Set(),
    positions: new Map([['', { line: 1, column: 1 }]]),
    spans: [],
    strings: new Map(),
    problems: [],
  };
  if (doc.contents === null) {
    const problem = {
      line: 1,
      column: 1,
      path: '',
      message: 'config file is empty: it needs at least `secrets:` (see config/examples/minimal.yaml)',
    };
    return { value: undefined, positions: walk.positions, strings: walk.strings, problems: [problem] };
  }
  const value = toPlain(doc.contents, [], walk, 0);
  const yamlProblems = firstPerLine(
    [...doc.errors, ...doc.warnings].map((err) => {
      const pos = at(err.pos[0], walk);
      const hint = FLOW_VARIABLE.test(lineText(text, lines, pos.line)) ? FLOW_VARIABLE_HINT : '';
      return { ...pos, path: innermostPath(err.pos[0], walk), message: yamlMessage(err.code, err.message) + hint };
    }),
  );
  // With broken syntax the tree is a guess: report only what the parser said.
  const problems = yamlProblems.length > 0 ? yamlProblems : walk.problems;
  return { value, positions: walk.positions, strings: walk.strings, problems };
}

/**
 * `credentials: { accessKey: ${NCP_ACCESS_KEY} }` is how people write it (DESIGN.md does), but
 * the braces of `${…}` end a YAML flow collection. Before parsing, the braces of each
 * well-formed reference are swapped for two private-use characters of the same length (so
 * every line and column stays exact); `restoreReferences` swaps them back in each string scalar
 * before interpolation. Interpolation still happens on parsed scalars only, so a variable's value
 * can never add structure. A file that already holds those characters is parsed unchanged.
 */
const OPEN = '\uE000';
const CLOSE = '\uE001';
const SHIELDABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*(?::-[^}\n,[\]{}]*)?)\}/g;

export function shieldReferences(text: string): string {
  if (text.includes(OPEN) || text.includes(CLOSE)) return text;
  return text.replace(SHIELDABLE, (_m, inner: string) => `$${OPEN}${inner}${CLOSE}`);
}

export function restoreReferences(value: string): string {
  return value.includes(OPEN) ? value.split(`$${OPEN}`).join('${').split(CLOSE).join('}') : value;
}

/** `${VAR}` unquoted inside `{ }` or `[ ]` that could not be shielded (e.g. a default with a comma). */
const FLOW_VARIABLE = /[{[,][^"'\n]*\$\{/;
const FLOW_VARIABLE_HINT = ' (inside { } or [ ], quote values that use variables: "${VAR}")';

/** One syntax error usually cascades into several on the same line; the first is the useful one. */
function firstPerLine(problems: TreeProblem[]): TreeProblem[] {
  const seen = new Set<number | undefined>();
  return problems.filter((p) => !seen.has(p.line) && seen.add(p.line));
}

function lineText(text: string, lines: LineCounter, line: number): string {
  const start = lines.lineStarts[line - 1] ?? 0;
  const end = lines.lineStarts[line] ?? text.length;
  return text.slice(start, end);
}

function toPlain(node: unknown, path: KeyPath, walk: Walk, depth: number): unknown {
  if (depth > MAX_DEPTH) {
    report(walk, node, path, `nested deeper than ${MAX_DEPTH} levels`);
    return null;
  }
  if (isAlias(node)) {
    walk.aliases += 1;
    if (walk.aliases > MAX_ALIAS_EXPANSIONS) {
      if (walk.aliases === MAX_ALIAS_EXPANSIONS + 1) {
        report(walk, node, path, `more than ${MAX_ALIAS_EXPANSIONS} alias expansions (*name): refusing to expand further`);
      }
      return null;
    }
    const target = node.resolve(walk.doc);
    if (!target) return null;
    if (walk.expanding.has(target)) {
      report(walk, node, path, `alias *${node.source} refers to a collection that contains it`);
      return null;
    }
    return toPlain(target, path, walk, depth + 1);
  }
  if (isScalar(node)) return scalarValue(node.value, path, node, walk);
  if (!isMap(node) && !isSeq(node)) return null;
  walk.expanding.add(node);
  try {
    return collectionValue(node, path, walk, depth);
  } finally {
    walk.expanding.delete(node);
  }
}

function collectionValue(node: YAMLMap | YAMLSeq, path: KeyPath, walk: Walk, depth: number): unknown {
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') {
        report(walk, pair.key ?? node, path, 'keys must be plain names');
        continue;
      }
      const name = restoreReferences(String(key));
      const childPath = [...path, name];
      record(walk, childPath, pair.key as YamlNode, pair.value as YamlNode | null);
      if (name === '__proto__') {
        report(walk, pair.key, childPath, "the key '__proto__' is not allowed");
        continue;
      }
      // defineProperty, not assignment: a key named like a prototype property stays plain data.
      Object.defineProperty(out, name, {
        value: toPlain(pair.value, childPath, walk, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return node.items.map((item, index) => {
    const childPath = [...path, index];
    record(walk, childPath, item as YamlNode, item as YamlNode);
    return toPlain(item, childPath, walk, depth + 1);
  });
}

function scalarValue(value: unknown, path: KeyPath, node: YamlNode, walk: Walk): unknown {
  if (typeof value !== 'string') return value;
  const result = interpolate(restoreReferences(value), walk.env, walk.options);
  walk.strings.set(formatKeyPath(path), result.uses);
  if (result.malformed) report(walk, node, path, result.malformed);
  if (result.unset.length > 0) {
    const names = result.unset.map((n) => '${' + n + '}').join(', ');
    const verb = result.unset.length === 1 ? 'is' : 'are';
    report(
      walk,
      node,
      path,
      `environment variable ${names} ${verb} not set (set it, write \${NAME:-default}, or validate with --sandbox)`,
    );
  }
  return result.value;
}

/** Remembers where `path` is written; the first record wins (an alias target keeps its own). */
function record(walk: Walk, path: KeyPath, start: YamlNode | null, end: YamlNode | null): void {
  const key = formatKeyPath(path);
  const range = start?.range;
  if (!range || walk.positions.has(key)) return;
  walk.positions.set(key, at(range[0], walk));
  walk.spans.push({ path: key, start: range[0], end: end?.range?.[1] ?? range[1] });
}

/** A problem at the recorded position of `path`, or at `node` when the path has none. */
function report(walk: Walk, node: unknown, path: KeyPath, message: string): void {
  const key = formatKeyPath(path);
  const recorded = walk.positions.get(key);
  const offset = (node as YamlNode | null)?.range?.[0];
  const pos = recorded ?? (offset === undefined ? { line: 1, column: 1 } : at(offset, walk));
  walk.problems.push({ ...pos, path: key, message });
}

function at(offset: number, walk: Walk): Position {
  const { line, col } = walk.lines.linePos(offset);
  return { line, column: col };
}

/** The most specific recorded key path whose text contains `offset` ('' when none does). */
function innermostPath(offset: number, walk: Walk): string {
  let best: { path: string; size: number } | undefined;
  for (const span of walk.spans) {
    if (offset < span.start || offset >= span.end) continue;
    const size = span.end - span.start;
    if (!best || size <= best.size) best = { path: span.path, size };
  }
  return best?.path ?? '';
}

/** yaml's message without its own position suffix (we print ours), plus what to do. */
function yamlMessage(code: string, message: string): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'MULTIPLE_DOCS':
      return 'a config file holds one YAML document: remove the second `---`';
    case 'TAG_RESOLVE_FAILED':
      return `${first} (custom YAML tags are not supported; use \${VAR} for environment variables)`;
    case 'DUPLICATE_KEY':
      return `${first}: each key may appear once`;
    default:
      return `invalid YAML: ${first}`;
  }
}
