import { FAILSAFE_SCHEMA, Type, load, type EventType, type State } from 'js-yaml';
import { Schema as YamlSchema, isScalar } from 'yaml';
import { interpolate } from './interpolate';
import type { InterpolationOptions, VariableUse } from './interpolate';
import { formatKeyPath } from './problems';
import type { KeyPath } from './problems';
import { MAX_DEPTH, restoreReferences, shieldReferences } from './yaml-tree';
import type { YamlTree } from './yaml-tree';

/**
 * The fast path of config parsing, for the common case of a valid file: js-yaml builds the
 * plain value about ten times faster than `yaml` builds its Document, with a fraction of the
 * memory (measured at 10,000 secrets, 2.4 MB of YAML: 0.3 s against 2.2 s of CPU, and the
 * Document alone held ~280 MB of heap, which the daemon's RSS kept after start-up). It records
 * no positions: the loader uses this tree only when validation finds no problem and no warning
 * (nothing to point at); otherwise it parses again with {@link parseYamlTree}, whose positions
 * and messages are the reference.
 *
 * Contract: when this returns a tree, its `value` and `strings` equal what parseYamlTree gives
 * for the same text (test/unit/config-yaml-fast.test.ts compares them on every fixture). So it
 * declines (returns undefined) whenever the two could differ or the precise path would report
 * something: any js-yaml error (syntax, duplicate keys, several documents), anchors, aliases,
 * tags, directives, complex keys, keys that are not plain names, `__proto__`, nesting deeper
 * than MAX_DEPTH, a malformed or unset `${VAR}`, and a file already holding the shielding
 * characters. Declining costs only time.
 */

/**
 * Text the fast path leaves to the precise one: `? ` explicit keys, a flow collection used as a
 * key (`{ [a, b]: 1 }`, which js-yaml would turn into the text "a,b"), `%` directives, verbatim
 * tags. Anchors and explicit tags are caught while parsing (see `refuseAnchorsAndTags`); without
 * anchors there can be no alias. A collection key split over lines escapes the pattern; its
 * text holds a comma (or is `[object …]`), which `plain` declines.
 */
const DECLINE = /(?:^|[\s[{,])\?(?:\s|$)|[{,][ \t]*[[{][^\n]*?[\]}][ \t]*:|^%|!</m;
const SHIELD_CHARS = /[\uE000\uE001]/;
/** Keys the precise path refuses or reads differently (null and empty keys, stringified collections). */
const NOT_PLAIN_KEYS = new Set(['__proto__', 'null', '', '~', 'Null', 'NULL']);

/**
 * Plain-scalar resolution exactly as `yaml` does with `schema: 'core'` (the precise path's): its own tag
 * definitions (test and resolve) wrapped as js-yaml implicit types, in the same order. Explicit
 * tags never reach them (DECLINE), so the tag names only need to be unique.
 */
const IMPLICIT_TAG = 'tag:rotator,core:';
type ScalarResolve = (source: string, onError: (message: string) => void, options: { intAsBigInt: boolean }) => unknown;

const CORE_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: new YamlSchema({ schema: 'core' }).tags.flatMap((tag, i) => {
    const test = tag.test;
    if (!test) return [];
    const resolve = tag.resolve as unknown as ScalarResolve;
    return new Type(`${IMPLICIT_TAG}${i}`, {
      kind: 'scalar',
      resolve: (data: unknown) => typeof data === 'string' && test.test(data),
      construct: (data: string) => {
        const value = resolve(data, () => undefined, { intAsBigInt: false });
        return isScalar(value) ? value.value : value;
      },
    });
  }),
});

class Decline extends Error {}

/** One frozen empty list for the many literal strings (10,000 secrets have ~100,000). */
const NO_USES = Object.freeze([]) as unknown as VariableUse[];

/**
 * js-yaml's per-node hook: at 'close' the node's anchor and tag are known. `?` is a plain
 * scalar, `!` a quoted one (or the non-specific tag, a string to both parsers), and our implicit
 * types name the rest; anything else was written in the file.
 */
function refuseAnchorsAndTags(event: EventType, state: State): void {
  if (event !== 'close') return;
  // The node's properties: present on js-yaml's state, absent from its type declarations.
  const node = state as unknown as { anchor: string | null; tag: string | null };
  if (node.anchor !== null) throw new Decline();
  const tag = node.tag;
  if (tag !== null && tag !== '?' && tag !== '!' && !tag.startsWith(IMPLICIT_TAG)) throw new Decline();
}

export function parseYamlFast(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  options: InterpolationOptions = {},
): YamlTree | undefined {
  if (SHIELD_CHARS.test(text) || DECLINE.test(text)) return undefined;
  let parsed: unknown;
  try {
    parsed = load(shieldReferences(text), { schema: CORE_SCHEMA, listener: refuseAnchorsAndTags });
  } catch {
    // A js-yaml error or a Decline from the listener: the precise path decides.
    return undefined;
  }
  // An empty file: the precise path says what it needs.
  if (parsed === undefined || parsed === null) return undefined;
  const strings = new Map<string, VariableUse[]>();
  try {
    const value = plain(parsed, [], 0, { env, options, strings, seen: new Map() });
    return { value, positions: new Map(), strings, problems: [] };
  } catch (err) {
    if (err instanceof Decline) return undefined;
    throw err;
  }
}

interface FastWalk {
  env: Readonly<Record<string, string | undefined>>;
  options: InterpolationOptions;
  strings: Map<string, VariableUse[]>;
  /** Each distinct string value once. */
  seen: Map<string, string>;
}

/**
 * The first string equal to `value`. The daemon keeps the config for its life: 10,000 secrets
 * repeat the same endpoints, provider names and interpolated credentials, and each copy (often a
 * concatenation that also keeps its parts) cost heap per secret.
 */
function intern(value: string, walk: FastWalk): string {
  const known = walk.seen.get(value);
  if (known !== undefined) return known;
  walk.seen.set(value, value);
  return value;
}

/** The same plain value parseYamlTree's toPlain builds: strings interpolated, keys restored. */
function plain(node: unknown, path: KeyPath, depth: number, walk: FastWalk): unknown {
  if (depth > MAX_DEPTH) throw new Decline();
  if (typeof node === 'string') {
    const result = interpolate(restoreReferences(node), walk.env, walk.options);
    if (result.malformed || result.unset.length > 0) throw new Decline();
    walk.strings.set(formatKeyPath(path), result.uses.length > 0 ? result.uses : NO_USES);
    return intern(result.value, walk);
  }
  if (Array.isArray(node)) return node.map((item, index) => plain(item, [...path, index], depth + 1, walk));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [rawKey, child] of Object.entries(node)) {
    const name = restoreReferences(rawKey);
    if (NOT_PLAIN_KEYS.has(name) || name.startsWith('[object ') || name.includes(',')) throw new Decline();
    // defineProperty, as the precise path does: a key named like a prototype property stays data.
    Object.defineProperty(out, name, {
      value: plain(child, [...path, name], depth + 1, walk),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
