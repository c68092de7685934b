/**
 * `${VAR}` interpolation of one string. The loader applies it to parsed YAML string scalars only
 * (never to the file's text), so a variable's value is always data: it cannot add keys, lists or
 * anchors, whatever characters it holds. Values are not interpolated again (`${A}` whose value is
 * `${B}` yields the text `${B}`).
 *
 * Syntax (a subset of the shell's):
 * - `${NAME}`: the variable's value; an error when it is unset (set-but-empty is a value);
 * - `${NAME:-default}`: the default when NAME is unset or empty; the default is literal text
 *   up to the first `}`;
 * - `$${`: a literal `${`; any other `$` is literal;
 * - NAME is letters, digits and `_`, not starting with a digit.
 */

/** Sandbox stand-ins for unset variables start with this, so code can recognise them. */
export const SANDBOX_PLACEHOLDER_PREFIX = 'rotator-sandbox-placeholder-';

export type VariableSource = 'env' | 'default' | 'placeholder';

export interface VariableUse {
  name: string;
  /** Where the text came from: the environment, the `:-` default, or the sandbox stand-in. */
  source: VariableSource;
}

export interface InterpolationResult {
  value: string;
  uses: VariableUse[];
  /** Variables that are unset with no default (never filled in sandbox mode). */
  unset: string[];
  /** Set when the text has a `${` that is not a valid reference; says what is allowed. */
  malformed?: string;
}

export interface InterpolationOptions {
  /** Unset variables become `rotator-sandbox-placeholder-NAME` instead of errors. */
  sandbox?: boolean;
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/y;

export const REFERENCE_HINT = 'write ${NAME} or ${NAME:-default} (NAME: letters, digits and _), or $${ for a literal ${';

export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  options: InterpolationOptions = {},
): InterpolationResult {
  const uses: VariableUse[] = [];
  const unset: string[] = [];
  let value = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      value += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      value += text[i];
      i += 1;
      continue;
    }
    REFERENCE.lastIndex = i;
    const match = REFERENCE.exec(text);
    if (!match) return { value: text, uses, unset, malformed: `malformed variable reference: ${REFERENCE_HINT}` };
    const name = match[1]!;
    const fallback = match[2];
    const found = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
    if (fallback !== undefined && (found === undefined || found === '')) {
      value += fallback;
      uses.push({ name, source: 'default' });
    } else if (found !== undefined) {
      value += found;
      uses.push({ name, source: 'env' });
    } else if (options.sandbox) {
      value += SANDBOX_PLACEHOLDER_PREFIX + name;
      uses.push({ name, source: 'placeholder' });
    } else {
      unset.push(name);
    }
    i = REFERENCE.lastIndex;
  }
  return { value, uses, unset };
}

/** Whether `value` holds a sandbox stand-in for an unset variable. */
export function hasSandboxPlaceholder(value: unknown): boolean {
  return typeof value === 'string' && value.includes(SANDBOX_PLACEHOLDER_PREFIX);
}
