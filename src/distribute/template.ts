/**
 * `format: template` file outputs: `{{credentials.accessKey}}`, `{{expiresAt}}`, … replaced by
 * the vault value's fields. An unknown placeholder is never replaced by an empty string: it is a
 * configuration error where the config can tell (syntax, top-level names, the provider's known
 * credential fields) and a distribution error otherwise. Pure; table-tested.
 *
 * A value is inserted as it is only when it holds no control character: a newline in a secret
 * would add lines to an INI or env template, so such a value is refused (naming the placeholder,
 * never the value) unless the placeholder declares an escaping: `{{json credentials.keySecret}}`
 * (a JSON string literal, quotes included) or `{{shell credentials.keySecret}}` (single-quoted
 * for POSIX sh).
 */
import type { VaultValue } from '../types';
import { shellQuote } from './env';

/** The value's top-level fields a template may use besides `credentials.<field>`. */
export const TEMPLATE_FIELDS = ['secretId', 'provider', 'providerRef', 'rotationId', 'issuedAt', 'expiresAt'] as const;

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$/;
/** An escaping declared before the path: `{{json credentials.keySecret}}`. */
const ESCAPED = /^(json|shell)\s+(\S.*)$/;
/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators (matching them is the point). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export type TemplateEscape = 'json' | 'shell';
export type TemplatePart = { text: string } | { path: string; escape?: TemplateEscape };

const ESCAPES: Record<TemplateEscape, (value: string) => string> = {
  json: (value) => JSON.stringify(value),
  shell: shellQuote,
};

/** Splits a template into text and placeholder paths, or returns the problems found. */
export function parseTemplate(template: string): { parts: TemplatePart[] } | { problems: string[] } {
  const parts: TemplatePart[] = [];
  const problems: string[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const at = match.index;
    parts.push({ text: template.slice(last, at) });
    const escaped = ESCAPED.exec(match[1]!);
    const path = escaped ? escaped[2]! : match[1]!;
    if (!PATH.test(path))
      problems.push(
        `placeholder {{${match[1]}}} is not a field path (write e.g. {{credentials.accessKey}}, {{expiresAt}} or {{json credentials.accessKey}})`,
      );
    parts.push(escaped ? { path, escape: escaped[1] as TemplateEscape } : { path });
    last = at + match[0].length;
  }
  const rest = template.slice(last);
  if (
    rest.includes('{{') ||
    rest.includes('}}') ||
    parts.some((p) => 'text' in p && (p.text.includes('{{') || p.text.includes('}}')))
  ) {
    problems.push("has an unclosed or unopened '{{' / '}}'");
  }
  parts.push({ text: rest });
  return problems.length > 0 ? { problems } : { parts: parts.filter((p) => !('text' in p) || p.text !== '') };
}

/**
 * Problems with the placeholders of `template` that the config can detect. `credentialFields`:
 * the provider's credential field names when it declares them (else credential fields are only
 * checked when rendering).
 */
export function templateProblems(template: string, credentialFields?: readonly string[]): string[] {
  const parsed = parseTemplate(template);
  if ('problems' in parsed) return parsed.problems;
  const problems: string[] = [];
  for (const part of parsed.parts) {
    if (!('path' in part)) continue;
    const [head, field, ...more] = part.path.split('.');
    if (head === 'credentials') {
      if (field === undefined || more.length > 0) problems.push(`placeholder {{${part.path}}}: write {{credentials.<field>}}`);
      else if (credentialFields && !credentialFields.includes(field))
        problems.push(unknownField(part.path, field, credentialFields));
    } else if (
      !(TEMPLATE_FIELDS as readonly string[]).includes(head!) &&
      credentialFields &&
      field === undefined &&
      !credentialFields.includes(head!)
    ) {
      problems.push(unknownField(part.path, head!, credentialFields));
    }
  }
  return problems;
}

function unknownField(path: string, field: string, fields: readonly string[]): string {
  return `placeholder {{${path}}}: the provider has no credential field '${field}' (it has ${fields.join(', ')}; other placeholders: ${TEMPLATE_FIELDS.join(', ')})`;
}

/** Resolves a placeholder path: a field of the value, else a bare credential field name. */
function lookup(value: VaultValue, path: string): unknown {
  const walk = (root: unknown) =>
    path
      .split('.')
      .reduce<unknown>(
        (node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined),
        root,
      );
  const direct = walk(value);
  return direct !== undefined ? direct : walk(value.credentials);
}

/**
 * Renders `template` with `value`. Throws (naming the placeholder, never a value) when one cannot
 * be filled, or when a value holds a control character and its placeholder declares no escaping.
 */
export function renderTemplate(template: string, value: VaultValue): string {
  const parsed = parseTemplate(template);
  if ('problems' in parsed) throw new Error(`template ${parsed.problems.join('; ')}`);
  return parsed.parts
    .map((part) => {
      if ('text' in part) return part.text;
      const found = lookup(value, part.path);
      if (typeof found === 'string' || typeof found === 'number' || typeof found === 'boolean') {
        const text = String(found);
        if (part.escape) return ESCAPES[part.escape](text);
        if (CONTROL.test(text)) {
          throw new Error(
            `template placeholder {{${part.path}}}: the value of '${value.secretId}' holds a newline or another control character, which would change the file's structure; declare an escaping, e.g. {{json ${part.path}}} or {{shell ${part.path}}}`,
          );
        }
        return text;
      }
      throw new Error(
        found === undefined
          ? `template placeholder {{${part.path}}} names no field of '${value.secretId}' (credential fields: ${Object.keys(value.credentials).join(', ')})`
          : `template placeholder {{${part.path}}} is not a single value`,
      );
    })
    .join('');
}
