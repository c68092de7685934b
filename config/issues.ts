import type { z } from 'zod';
import { suggest } from './problems';
import type { KeyPath } from './problems';

/**
 * Zod issues → operator-facing messages. Schemas that state their own message (ours and the
 * plugins') keep it; zod's generic defaults are replaced by {@link friendlyError}, which says what
 * is allowed in the file's own words (mapping, list, one of …).
 */

type RawIssue = z.core.$ZodRawIssue;

/** A per-parse zod error map: `schema.safeParse(value, { error: friendlyError })`. */
export function friendlyError(issue: RawIssue): string | undefined {
  const missing = !('input' in issue) || issue.input === undefined;
  switch (issue.code) {
    case 'invalid_type':
      return missing ? 'is required' : `must be ${typeName(String(issue.expected))}`;
    case 'too_small':
      return sizeMessage('at least', issue.origin, issue.minimum, issue.inclusive);
    case 'too_big':
      return sizeMessage('at most', issue.origin, issue.maximum, issue.inclusive);
    case 'invalid_value':
      return `must be ${oneOf(issue.values)}`;
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (!Array.isArray(options)) return 'matches none of the allowed forms';
      return missing ? `is required: ${oneOf(options)}` : `must be ${oneOf(options)}`;
    }
    case 'invalid_format':
      return issue.format === 'regex' ? `must match ${String(issue.pattern)}` : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return undefined;
  }
}

function sizeMessage(bound: 'at least' | 'at most', origin: unknown, limit: unknown, inclusive?: boolean): string {
  const n = Number(limit);
  const strict = inclusive === false;
  switch (origin) {
    case 'string':
      if (bound === 'at least' && n === 1) return 'must not be empty';
      return `must be ${bound} ${n} characters long`;
    case 'array':
    case 'set':
      if (bound === 'at least' && n === 1) return 'must not be an empty list';
      return `must have ${bound} ${n} items`;
    default:
      if (strict) return `must be ${bound === 'at least' ? 'greater' : 'less'} than ${n}`;
      return `must be ${bound} ${n}`;
  }
}

function oneOf(values: readonly unknown[]): string {
  const shown = values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v)));
  return shown.length === 1 ? shown[0]! : `one of ${shown.join(', ')}`;
}

function typeName(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record':
      return 'a mapping (key: value)';
    case 'array':
      return 'a list';
    case 'int':
      return 'an integer';
    case 'undefined':
    case 'never':
      return 'absent';
    default:
      return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}

/** `unknown key 'durationsec' — did you mean 'durationSec'?`, or the allowed keys. */
export function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const guess = suggest(key, allowed);
  if (guess) return `unknown key '${key}' — did you mean '${guess}'?`;
  if (allowed.length === 0) return `unknown key '${key}'`;
  return `unknown key '${key}' (allowed: ${allowed.join(', ')})`;
}

/**
 * The keys an object schema accepts at `path` below `schema`, found by walking zod's schema
 * definitions. Best effort (it feeds "did you mean"): wrappers are unwrapped, unions contribute
 * the keys of every member, anything unrecognised yields no keys.
 */
export function allowedKeysAt(schema: z.ZodType, path: KeyPath): string[] {
  let nodes: unknown[] = [schema];
  for (const segment of path) nodes = nodes.flatMap((n) => childrenAt(n, segment));
  const keys = new Set<string>();
  for (const node of nodes.flatMap(objectsOf)) for (const key of Object.keys(shapeOf(node))) keys.add(key);
  return [...keys];
}

interface Def {
  type?: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  element?: unknown;
  valueType?: unknown;
  options?: unknown[];
  left?: unknown;
  right?: unknown;
  getter?: () => unknown;
}

function defOf(node: unknown): Def {
  return ((node as { _zod?: { def?: Def } } | undefined)?._zod?.def ?? {}) as Def;
}

function shapeOf(node: unknown): Record<string, unknown> {
  return defOf(node).shape ?? {};
}

/** The object schemas `node` stands for once wrappers, pipes and unions are looked through. */
function objectsOf(node: unknown, depth = 0): unknown[] {
  if (depth > 16) return [];
  const def = defOf(node);
  switch (def.type) {
    case 'object':
      return [node];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return objectsOf(def.innerType, depth + 1);
    case 'pipe':
      return [...objectsOf(def.in, depth + 1), ...objectsOf(def.out, depth + 1)];
    case 'union':
      return (def.options ?? []).flatMap((o) => objectsOf(o, depth + 1));
    case 'intersection':
      return [...objectsOf(def.left, depth + 1), ...objectsOf(def.right, depth + 1)];
    case 'lazy':
      return def.getter ? objectsOf(def.getter(), depth + 1) : [];
    default:
      return [];
  }
}

function childrenAt(node: unknown, segment: string | number): unknown[] {
  const out: unknown[] = [];
  for (const object of objectsOf(node)) {
    const child = shapeOf(object)[String(segment)];
    if (child) out.push(child);
  }
  const def = defOf(unwrap(node));
  if (typeof segment === 'number' && def.type === 'array') out.push(def.element);
  if (def.type === 'record') out.push(def.valueType);
  return out;
}

function unwrap(node: unknown, depth = 0): unknown {
  const def = defOf(node);
  if (depth < 16 && def.innerType) return unwrap(def.innerType, depth + 1);
  if (depth < 16 && def.type === 'pipe') return unwrap(def.in, depth + 1);
  return node;
}
