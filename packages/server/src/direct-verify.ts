import type { HTTPGraphQLRequest } from '@apollo/server';
import {
  Kind,
  OperationTypeNode,
  isLeafType,
  isNonNullType,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLLeafType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  type VariableDefinitionNode,
} from 'graphql';
import Negotiator from 'negotiator';
import { allows, authenticate } from './auth.js';
import type { ApiKey } from './config.js';
import type { graphqlLimits } from './limits.js';
import { recordOperation } from './observe.js';
import type { Services } from './services.js';
import type { VerifyResult } from './totp/attempt.js';

/**
 * verifyTotp and verifyRecoveryCode answered without Apollo's request pipeline. An application
 * calls them at every login, and GraphQL's work per request (Apollo's pipeline, graphql-js's
 * execution, type-graphql's wrapping of each field) cost about as much server CPU as all the
 * rest of a verify: 114 µs of a wrong-code verify's 237 on Node 20, 40 of 146 on Node 24
 * (bench/README.md).
 *
 * A document is compiled once: parsed and validated as Apollo does (the same limits), and planned
 * only when it is one mutation of one verify field with leaf fields selected, no fragments,
 * directives or variable defaults. A request is answered here only when nothing before the
 * service call can turn out differently than in Apollo: a POST of JSON that accepts JSON, the
 * variables of the declared types as given, a key allowed to verify. Anything else goes to Apollo
 * untouched. A verify that threw, or whose result does not serialise cleanly, goes to Apollo too,
 * with the service's answer handed back instead of a second call (`replay`): the code is checked
 * once and the error has Apollo's exact shape. test/direct-verify.test.ts holds the two paths'
 * answers to each other, byte for byte.
 */

/** The verify fields, the service each calls, and the role it needs (both `@Authorized('app')`). */
const FIELDS = { verifyTotp: 'totp', verifyRecoveryCode: 'recovery' } as const;
type VerifyField = keyof typeof FIELDS;
const REQUIRED_ROLE = 'app';

/** An argument: a variable's name, or a literal's value. */
type Arg = { readonly variable: string } | { readonly value: string | null };

interface Leaf {
  readonly key: string;
  readonly name: string;
  /** null for `__typename` */
  readonly type: GraphQLLeafType | null;
  readonly nonNull: boolean;
}

export interface Plan {
  readonly field: VerifyField;
  /** The field's response key (its alias, or its name). */
  readonly key: string;
  readonly operationName: string | null;
  readonly operation: OperationDefinitionNode;
  readonly variables: readonly { readonly name: string; readonly nonNull: boolean }[];
  readonly args: { readonly userId: Arg; readonly code: Arg; readonly clientIp?: Arg };
  readonly leaves: readonly Leaf[];
  readonly typeName: string;
}

/** graphqlLimits()'s, as Apollo is given them: the same document is refused or planned alike. */
export type Limits = Pick<ReturnType<typeof graphqlLimits>, 'parseOptions' | 'validationRules' | 'validationOptions'>;

/** What became of a request: answered here (the body), or Apollo's, maybe with a verify to replay. */
export type DirectAnswer = { readonly body: string } | { readonly body?: undefined; readonly services?: Services };

const NOT_HERE: DirectAnswer = {};
/** The content type of a direct answer, Apollo's for JSON. */
export const JSON_TYPE = 'application/json; charset=utf-8';
/** Apollo's choice of response type among these (ApolloServer.chooseContentTypeForSingleResultResponse). */
const MEDIA_TYPES = [JSON_TYPE, 'application/graphql-response+json; charset=utf-8', 'application/json; callbackSpec=1.0; charset=utf-8'];
/** Documents kept, planned or not: a verify document is one of a client's handful. */
const MAX_DOCUMENTS = 100;
/** Longer texts are Apollo's (a verify with every field and 15 aliases is under 1,000 characters). */
const MAX_TEXT = 4096;

function isRecord(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && !Array.isArray(o);
}

/** A variable's type when it is one this path coerces as graphql-js does: ID or String, nullable or not. */
function stringVariable(def: VariableDefinitionNode): { name: string; nonNull: boolean } | null {
  if (def.defaultValue || (def.directives?.length ?? 0) > 0) return null;
  const named = def.type.kind === Kind.NON_NULL_TYPE ? def.type.type : def.type;
  if (named.kind !== Kind.NAMED_TYPE || (named.name.value !== 'ID' && named.name.value !== 'String')) return null;
  return { name: def.variable.name.value, nonNull: def.type.kind === Kind.NON_NULL_TYPE };
}

function argOf(value: ValueNode): Arg | null {
  if (value.kind === Kind.VARIABLE) return { variable: value.name.value };
  if (value.kind === Kind.STRING) return { value: value.value };
  if (value.kind === Kind.NULL) return { value: null };
  return null;
}

function argsOf(field: FieldNode): Plan['args'] | null {
  const args: Record<string, Arg> = {};
  for (const a of field.arguments ?? []) {
    const arg = argOf(a.value);
    if (!arg) return null;
    args[a.name.value] = arg;
  }
  const { userId, code, clientIp } = args;
  if (!userId || !code) return null;
  return { userId, code, ...(clientIp ? { clientIp } : {}) };
}

/** The selected leaves, in the order graphql-js answers them, or null when one is anything else. */
function leavesOf(set: SelectionSetNode | undefined, type: GraphQLObjectType): Leaf[] | null {
  if (!set) return null;
  const fields = type.getFields();
  const leaves: Leaf[] = [];
  for (const s of set.selections) {
    if (s.kind !== Kind.FIELD || (s.directives?.length ?? 0) > 0 || (s.arguments?.length ?? 0) > 0 || s.selectionSet) return null;
    const key = s.alias?.value ?? s.name.value;
    if (s.name.value === '__typename') {
      leaves.push({ key, name: '__typename', type: null, nonNull: true });
      continue;
    }
    const def = fields[s.name.value];
    if (!def) return null;
    const inner = isNonNullType(def.type) ? def.type.ofType : def.type;
    if (!isLeafType(inner)) return null;
    leaves.push({ key, name: def.name, type: inner, nonNull: isNonNullType(def.type) });
  }
  return leaves;
}

/** A document's plan, or null when Apollo is to answer it (invalid, or not of the planned shape). */
export function planOf(schema: GraphQLSchema, limits: Limits, query: string): Plan | null {
  let doc: DocumentNode;
  try {
    doc = parse(query, limits.parseOptions);
  } catch {
    return null;
  }
  if (doc.definitions.length !== 1 || validate(schema, doc, [...specifiedRules, ...limits.validationRules], limits.validationOptions).length > 0) {
    return null;
  }
  const op = doc.definitions[0]!;
  if (op.kind !== Kind.OPERATION_DEFINITION || op.operation !== OperationTypeNode.MUTATION || (op.directives?.length ?? 0) > 0) return null;
  const root = op.selectionSet.selections;
  const field = root.length === 1 && root[0]!.kind === Kind.FIELD ? root[0]! : null;
  if (!field || !Object.hasOwn(FIELDS, field.name.value) || (field.directives?.length ?? 0) > 0) return null;
  const variables = (op.variableDefinitions ?? []).map(stringVariable);
  const resultType = schema.getMutationType()?.getFields()[field.name.value]?.type;
  const objectType = resultType && isNonNullType(resultType) ? resultType.ofType : resultType;
  const args = argsOf(field);
  const leaves = objectType && 'getFields' in objectType ? leavesOf(field.selectionSet, objectType as GraphQLObjectType) : null;
  if (variables.includes(null) || !args || !leaves) return null;
  return {
    field: field.name.value as VerifyField,
    key: field.alias?.value ?? field.name.value,
    operationName: op.name?.value ?? null,
    operation: op,
    variables: variables as { name: string; nonNull: boolean }[],
    args,
    leaves,
    typeName: (objectType as GraphQLObjectType).name,
  };
}

/**
 * The arguments as graphql-js would coerce them, or null when it would refuse a variable or read
 * it differently (an ID sent as a number): Apollo answers those.
 */
function argumentsOf(plan: Plan, given: Record<string, unknown>): { userId: string; code: string; clientIp?: string | null } | null {
  const values = new Map<string, string | null>();
  for (const v of plan.variables) {
    const value = Object.hasOwn(given, v.name) ? given[v.name] : undefined;
    if (typeof value === 'string' || (value === null && !v.nonNull)) values.set(v.name, value);
    else if (value !== undefined || v.nonNull) return null;
  }
  const read = (arg: Arg): string | null | undefined => ('variable' in arg ? values.get(arg.variable) : arg.value);
  const userId = read(plan.args.userId);
  const code = read(plan.args.code);
  if (typeof userId !== 'string' || typeof code !== 'string') return null;
  const clientIp = plan.args.clientIp ? read(plan.args.clientIp) : undefined;
  return clientIp === undefined ? { userId, code } : { userId, code, clientIp };
}

/** The result's JSON as Apollo writes it, or null when a value would not serialise cleanly. */
function render(plan: Plan, result: VerifyResult): string | null {
  const out: Record<string, unknown> = {};
  for (const leaf of plan.leaves) {
    if (leaf.type === null) {
      out[leaf.key] = plan.typeName;
      continue;
    }
    const value = (result as unknown as Record<string, unknown>)[leaf.name];
    if (value === null || value === undefined) {
      if (leaf.nonNull) return null;
      out[leaf.key] = null;
      continue;
    }
    let serialised: unknown;
    try {
      serialised = leaf.type.serialize(value);
    } catch {
      return null;
    }
    if (serialised === null || serialised === undefined) return null;
    out[leaf.key] = serialised;
  }
  return `${JSON.stringify({ data: { [plan.key]: out } })}\n`;
}

/** The services with the verify answering `answer` again, for Apollo to format. */
function replaying(services: Services, field: VerifyField, answer: () => Promise<VerifyResult>): Services {
  const name = FIELDS[field];
  return { ...services, [name]: Object.create(services[name], { verify: { value: answer } }) as Services[typeof name] };
}

/** The request's body when this path may answer it: a POST of a JSON object. */
function bodyOf(request: HTTPGraphQLRequest): { query: string; variables: Record<string, unknown>; operationName?: unknown } | null {
  const body = request.body;
  if (request.method !== 'POST' || !isRecord(body) || typeof body.query !== 'string') return null;
  if (body.extensions !== undefined && body.extensions !== null) return null;
  const variables = body.variables ?? {};
  if (!isRecord(variables)) return null;
  return { query: body.query, variables, operationName: body.operationName };
}

/** Whether Apollo would answer the request in JSON_TYPE (no Accept, or one where it wins). */
function acceptsJson(request: HTTPGraphQLRequest): boolean {
  const accept = request.headers.get('accept');
  return accept === undefined || new Negotiator({ headers: { accept } }).mediaType(MEDIA_TYPES) === JSON_TYPE;
}

export interface DirectVerifyOptions {
  readonly schema: GraphQLSchema;
  readonly limits: Limits;
  readonly apiKeys: readonly ApiKey[];
  readonly services: Services;
}

/** Answers a verify request directly when it can (see above); otherwise says Apollo's. */
export function directVerify(o: DirectVerifyOptions): (request: HTTPGraphQLRequest, authorization: string | undefined) => Promise<DirectAnswer> {
  const plans = new Map<string, Plan | null>();
  const planFor = (query: string): Plan | null => {
    let plan = plans.get(query);
    if (plan === undefined) {
      // the other documents are Apollo's: parse them once, there
      if (query.length > MAX_TEXT || !query.includes('verify')) return null;
      plan = planOf(o.schema, o.limits, query);
      if (plans.size >= MAX_DOCUMENTS) plans.delete(plans.keys().next().value!);
      plans.set(query, plan);
    }
    return plan;
  };

  return async (request, authorization) => {
    const body = bodyOf(request);
    const plan = body ? planFor(body.query) : null;
    // Accept is negotiated only for a verify: every other request goes on to Apollo, which does it
    if (!body || !plan || !acceptsJson(request)) return NOT_HERE;
    const given = body.operationName;
    if (given !== undefined && given !== null && given !== plan.operationName) return NOT_HERE;
    const args = argumentsOf(plan, body.variables);
    if (!args) return NOT_HERE;
    let principal;
    try {
      principal = authenticate(authorization, o.apiKeys);
    } catch {
      return NOT_HERE;
    }
    if (!allows(principal.role, REQUIRED_ROLE)) return NOT_HERE;
    recordOperation(plan.operationName, plan.operation);
    let result: VerifyResult;
    try {
      result = await o.services[FIELDS[plan.field]].verify(principal, args.userId, args.code, args.clientIp);
    } catch (err) {
      return {
        services: replaying(o.services, plan.field, async () => {
          throw err;
        }),
      };
    }
    const text = render(plan, result);
    return text === null ? { services: replaying(o.services, plan.field, () => Promise.resolve(result)) } : { body: text };
  };
}
