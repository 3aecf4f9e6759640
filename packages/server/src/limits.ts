import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, Kind, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';

/**
 * Limits on the shape of a GraphQL request, so that no single request can make the server do
 * much work. The checks are graphql-armor's validation rules (aliases, depth, directives, cost;
 * they follow fragment spreads, so aliases hidden in fragments count once per spread) and
 * graphql-js's own token limit, which aborts parsing itself (armor's Apollo token plugin parses a
 * second time and answers 500 on Apollo 5), plus one rule of our own that armor has no equivalent
 * for: one scanning field (audit log, listing, rekey) per request. Each legitimate operation of
 * docs/api.md stays far below every limit: the largest (an enrollment with every field) has about 60
 * tokens, depth 2.
 *
 * A request over a limit is answered with exactly one GraphQL error, HTTP 400, code
 * QUERY_TOO_COMPLEX (errors.ts), naming the limit; nothing of it is executed.
 */

export const GRAPHQL_LIMITS = Object.freeze({
  /** Lexical tokens in the document (15 aliases of totpStatus with every field are about 330). */
  maxTokens: 500,
  /** Aliased fields in the operation, through fragments: bounds verifies per request. */
  maxAliases: 15,
  /** Nesting of selections (docs/api.md's deepest read, `auditEvents { nodes { id } }`, is 3). */
  maxDepth: 6,
  /** @skip / @include and the like, in the operation. */
  maxDirectives: 10,
  /**
   * armor's cost: a scalar 1, an object 2, ×1.5 per level, × a literal `first`. A page of 1000
   * audit events with every field costs about 30,500.
   */
  maxCost: 50_000,
  /** Validation errors listed before graphql-js stops validating. */
  maxValidationErrors: 10,
  /**
   * Fields of SCANNING_FIELDS per operation. Each walks a log or every user, bounded by a scan
   * budget per call (audit: 20,000 entries; listing: 10,000 members) but costing little by the
   * cost rule (`first` in a variable is not seen, and a rare `types` filter returns nothing):
   * without this, 15 aliases of a sparse audit query cost 15 budgets in one request.
   */
  maxScans: 1,
});

/** Root fields whose work grows with the store, not with what they return. */
export const SCANNING_FIELDS: ReadonlySet<string> = new Set(['auditEvents', 'totpEnrollments', 'rekeyTotp', 'exportTotp']);

export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

/** The original error of a limit's rejection: errors.ts gives it its code. */
export class QueryLimitError extends Error {
  override readonly name = 'QueryLimitError';
  constructor(
    readonly limit: 'aliases' | 'depth' | 'directives' | 'cost' | 'scans',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A rejection handler per limit. A request breaking several limits at once gets the first only:
 * one clear error. armor prefixes its messages with "Syntax Error: ", which they are not.
 */
function reportOnce(limit: QueryLimitError['limit'], reported: WeakSet<ValidationContext>) {
  return (ctx: ValidationContext | null, err: GraphQLError): void => {
    if (!ctx || reported.has(ctx)) return;
    reported.add(ctx);
    const message = `Query too complex: ${err.message.replace(/^Syntax Error: /, '')}`;
    ctx.reportError(new GraphQLError(message, { originalError: new QueryLimitError(limit, message) }));
  };
}

/**
 * At most `max` of SCANNING_FIELDS in an operation, counted like aliases: once per fragment spread
 * (and inline fragment) that reaches one. Only root selections can hold them. A fragment's count
 * is computed once, so a fan-out of spreads costs nothing to count.
 */
function maxScansRule(max: number, onReject: (ctx: ValidationContext, err: GraphQLError) => void): ValidationRule {
  return (context) => {
    const memo = new Map<string, number>();
    const count = (set: SelectionSetNode, inside: ReadonlySet<string>): number => {
      let n = 0;
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) n += SCANNING_FIELDS.has(s.name.value) ? 1 : 0;
        else if (s.kind === Kind.INLINE_FRAGMENT) n += count(s.selectionSet, inside);
        else if (!inside.has(s.name.value)) {
          // a cycle is NoFragmentCyclesRule's to report
          const name = s.name.value;
          const fragment = context.getFragment(name);
          if (!memo.has(name)) memo.set(name, fragment ? count(fragment.selectionSet, new Set([...inside, name])) : 0);
          n += memo.get(name)!;
        }
        if (n > max) return n;
      }
      return n;
    };
    return {
      OperationDefinition(operation) {
        const n = count(operation.selectionSet, new Set());
        if (n > max) {
          onReject(context, new GraphQLError(`at most ${max} of ${[...SCANNING_FIELDS].join(', ')} per request, found more.`));
        }
      },
    };
  };
}

/**
 * graphql-js reports the standard rules' findings alongside a limit's (a hundred unknown fields
 * as well as too many aliases): when a limit was hit, the answer is that one error alone.
 */
const oneLimitError: ApolloServerPlugin<BaseContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        if (response.body.kind !== 'single') return;
        const errors = response.body.singleResult.errors;
        const limit = errors?.find((e) => e.extensions?.code === QUERY_TOO_COMPLEX);
        if (limit && errors!.length > 1) response.body.singleResult.errors = [limit];
      },
    };
  },
};

/** What ApolloServer's constructor takes to enforce the limits. */
export function graphqlLimits() {
  const reported = new WeakSet<ValidationContext>();
  const reject = (limit: QueryLimitError['limit']) => ({
    exposeLimits: true,
    propagateOnRejection: false,
    onReject: [reportOnce(limit, reported)],
  });
  const armor = new ApolloArmor({
    maxAliases: { n: GRAPHQL_LIMITS.maxAliases, ...reject('aliases') },
    maxDepth: { n: GRAPHQL_LIMITS.maxDepth, ...reject('depth') },
    maxDirectives: { n: GRAPHQL_LIMITS.maxDirectives, ...reject('directives') },
    costLimit: { maxCost: GRAPHQL_LIMITS.maxCost, ...reject('cost') },
    // graphql-js's parser option below does this in one parse
    maxTokens: { enabled: false },
    // Apollo's hideSchemaDetailsFromClientErrors does this too; both stay on
    blockFieldSuggestion: { enabled: true },
  }).protect();
  return {
    // armor's types name Apollo's CommonJS declarations; the objects are the same at run time
    plugins: [...(armor.plugins as unknown as ApolloServerPlugin<BaseContext>[]), oneLimitError],
    validationRules: [...armor.validationRules, maxScansRule(GRAPHQL_LIMITS.maxScans, reportOnce('scans', reported))],
    parseOptions: { maxTokens: GRAPHQL_LIMITS.maxTokens },
    validationOptions: { maxErrors: GRAPHQL_LIMITS.maxValidationErrors },
  };
}

/**
 * Largest request body by default (TOTP_MAX_BODY_BYTES). The largest legitimate request, an
 * import with a 1024-character secret and labels of 256 characters, is under 4 KiB.
 */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
