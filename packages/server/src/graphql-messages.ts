import { Kind, print, type ASTNode, type GraphQLError } from 'graphql';

/**
 * GraphQL's own error messages (parse, validation, variable coercion) quote the value they refused:
 * `Variable "$i" got invalid value { userId: "a", secret: "JBSW…", digit: 6 }; Field "digit" is not
 * defined…`, or `String cannot represent a non string value: 123456` for a code sent unquoted. Here
 * a secret, a code or a recovery code sent with the wrong type, or next to a misspelt field,
 * would come back in the response (and in whatever logs the client keeps). These functions keep
 * each message and its structure (which variable, which path, which type was expected) and put
 * `<value>` where the value was.
 */

export const VALUE = '<value>';

/** Scalar and enum messages of graphql-js and graphql-scalars that end with the value. */
const QUOTING: readonly [RegExp, string][] = [
  // String, Int, Float, Boolean, ID and enums: "… cannot represent non-integer value: 1.5"
  [/^(.*? cannot represent [^:]*?value): [\s\S]*$/, `$1: ${VALUE}`],
  // DateTime (graphql-scalars): "… an invalid date-time-string 2024-13-01.", "… non string or Date type 5"
  [/^(DateTime cannot represent (?:an invalid date-time-string|an invalid Unix timestamp|non string or Date type)) [\s\S]*$/, `$1 ${VALUE}`],
  [/^Value [\s\S]* does not exist in ("[^"]+") enum\.[\s\S]*$/, `Value ${VALUE} does not exist in $1 enum.`],
  [/^(Expected value of type "[^"]+", found) [\s\S]*$/, `$1 ${VALUE}.`],
];

/** Messages about an input value that quote no value. */
const QUOTES_NOTHING = [
  /^Expected non-nullable type "[^"]+" not to be null\.$/,
  /^Expected type "[^"]+" to be an object\.$/,
  /^Field "[^"]+" of required type "[^"]+" was not provided\.$/,
  /^Field "[^"]+" is not defined by type "[^"]+"\.$/,
];

/** A message of a scalar, an enum or an input object about a value, without the value (or suggestions). */
function valueMessage(inner: string): string {
  const message = inner.replace(/ Did you mean [\s\S]*$/, '');
  for (const [pattern, replacement] of QUOTING) if (pattern.test(message)) return message.replace(pattern, replacement);
  return QUOTES_NOTHING.some((p) => p.test(message)) ? message : 'invalid value';
}

const VALUE_KINDS: ReadonlySet<string> = new Set([
  Kind.STRING, Kind.INT, Kind.FLOAT, Kind.BOOLEAN, Kind.ENUM, Kind.LIST, Kind.OBJECT, Kind.NULL,
]);

/** `error.message` (of a request error: parse, validation, variables) without the values it quotes. */
export function withoutValues(error: GraphQLError, code: string): string {
  const { message } = error;
  const variable = /^Variable "\$(\w+)" got invalid value /.exec(message);
  if (variable) return variableMessage(message, variable[1]!, error.originalError?.message);
  if (code === 'GRAPHQL_PARSE_FAILED') {
    // getTokenDesc: `Name "JBSWY3DP"`, `Int "123456"`: the token is the last thing said
    return message.replace(/\b(Name|Int|Float|String|BlockString) "[\s\S]*"(\.?)$/, `$1 ${VALUE}$2`);
  }
  let out = message;
  for (const node of (error.nodes ?? []) as ASTNode[]) {
    if (VALUE_KINDS.has(node.kind)) out = out.split(print(node)).join(VALUE);
  }
  for (const [pattern, replacement] of QUOTING) if (pattern.test(out)) return out.replace(pattern, replacement);
  return out;
}

/**
 * `Variable "$v" got invalid value X at "v.path"; inner` → the same with `<value>` for X, and the
 * inner message (the original error's, before Apollo hid its suggestions) without its value. The
 * path is graphql-js's printPathArray (`v.field`, `v.list[2]`); a string inside X cannot fake it,
 * as inspect() escapes its quotes.
 */
function variableMessage(message: string, name: string, inner: string | undefined): string {
  const path = new RegExp(` at "(${name}(?:\\.\\w+|\\[\\d+\\])*)"; `).exec(message)?.[1];
  return `Variable "$${name}" got invalid value ${VALUE}${path ? ` at "${path}"` : ''}; ${inner === undefined ? 'invalid value' : valueMessage(inner)}`;
}
