import { readFileSync } from 'node:fs';
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isObjectType,
  isScalarType,
  print,
  printSchema,
  astFromValue,
  type GraphQLArgument,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLSchema,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTotpSchema } from '../src/schema.js';

/**
 * The built schema against the fixed part of docs/api.md (fixtures/api-schema.graphql), structurally:
 * both are parsed by graphql-js and compared type by type, field by field, argument by argument,
 * with types (nullability and lists included), enum values and default values. The built schema
 * may add; it may not rename, drop or change.
 */
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const contract = buildSchema(`${fixture('api-schema.graphql')}\n${fixture('api-schema-v2.graphql')}`);

const defaultOf = (a: GraphQLArgument | GraphQLInputField): string | null => {
  if (a.defaultValue === undefined) return null;
  const ast = astFromValue(a.defaultValue, a.type);
  return ast ? print(ast) : null;
};

/** Every difference between the contract and the built schema, as readable lines. */
function differences(fixed: GraphQLSchema, built: GraphQLSchema): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(fixed.getTypeMap())) {
    if (name.startsWith('__')) continue;
    const got: GraphQLNamedType | undefined = built.getType(name);
    if (!got) {
      out.push(`type ${name} is missing`);
      continue;
    }
    if (want.constructor !== got.constructor) out.push(`${name} is a ${got.constructor.name}, not a ${want.constructor.name}`);
    else if (isEnumType(want) && isEnumType(got)) {
      const have = new Set(got.getValues().map((v) => v.name));
      for (const v of want.getValues()) if (!have.has(v.name)) out.push(`enum ${name} lacks ${v.name}`);
    } else if ((isObjectType(want) && isObjectType(got)) || (isInputObjectType(want) && isInputObjectType(got))) {
      const gotFields = got.getFields() as Record<string, { type: unknown; args?: readonly GraphQLArgument[] } & Partial<GraphQLInputField>>;
      const wantFields = want.getFields() as Record<string, { type: unknown; args?: readonly GraphQLArgument[] }>;
      for (const [fieldName, wf] of Object.entries(wantFields)) {
        const gf = gotFields[fieldName];
        const where = `${name}.${fieldName}`;
        if (!gf) {
          out.push(`${where} is missing`);
          continue;
        }
        if (String(gf.type) !== String(wf.type)) out.push(`${where} is ${String(gf.type)}, not ${String(wf.type)}`);
        if (isInputObjectType(want) && defaultOf(gf as GraphQLInputField) !== defaultOf(wf as GraphQLInputField)) {
          out.push(`${where} defaults to ${defaultOf(gf as GraphQLInputField)}, not ${defaultOf(wf as GraphQLInputField)}`);
        }
        const wantArgs = wf.args ?? [];
        for (const wa of wantArgs) {
          const ga = gf.args?.find((a) => a.name === wa.name);
          if (!ga) out.push(`${where}(${wa.name}) is missing`);
          else {
            if (String(ga.type) !== String(wa.type)) out.push(`${where}(${wa.name}) is ${String(ga.type)}, not ${String(wa.type)}`);
            if (defaultOf(ga) !== defaultOf(wa)) out.push(`${where}(${wa.name}) defaults to ${defaultOf(ga)}, not ${defaultOf(wa)}`);
          }
        }
        const order = (gf.args ?? []).map((a) => a.name).filter((n) => wantArgs.some((a) => a.name === n));
        if (order.join() !== wantArgs.map((a) => a.name).join()) out.push(`${where} takes (${order.join(', ')}), not (${wantArgs.map((a) => a.name).join(', ')})`);
        // an added argument must not be required, or calls written to the contract would fail
        for (const ga of gf.args ?? []) {
          if (!wantArgs.some((a) => a.name === ga.name) && String(ga.type).endsWith('!') && ga.defaultValue === undefined) {
            out.push(`${where}(${ga.name}) is an added required argument`);
          }
        }
      }
    } else if (!isScalarType(want)) {
      out.push(`${name}: unexpected kind`);
    }
  }
  return out;
}

describe('the GraphQL schema', () => {
  let built: GraphQLSchema;
  beforeAll(async () => {
    built = await buildTotpSchema();
  });

  it('has every type, field, argument, enum value and default of docs/api.md', () => {
    expect(differences(contract, built)).toEqual([]);
  });

  it('has every query and mutation of docs/api.md, and no others unannounced', () => {
    const names = (s: GraphQLSchema) => [...Object.keys(s.getQueryType()!.getFields()), ...Object.keys(s.getMutationType()!.getFields())].sort();
    expect(names(built)).toEqual(names(contract));
  });

  it('would notice a difference (the comparison is not vacuous)', () => {
    const changed = buildSchema(
      printSchema(contract)
        .replace('first: Int = 50', 'first: Int = 20')
        .replace('recoveryCodesRemaining: Int!', 'recoveryCodesRemaining: Int')
        .replace('IMPORTED', 'IMPORT')
        .replace('verifyTotp(userId: ID!, code: String!, clientIp: String)', 'verifyTotp(code: String!, userId: ID!, clientIp: String)'),
    );
    expect(differences(contract, changed).sort()).toEqual([
      'Mutation.verifyTotp takes (code, userId, clientIp), not (userId, code, clientIp)',
      'Query.totpEnrollments(first) defaults to 20, not 50',
      'TotpState.recoveryCodesRemaining is Int, not Int!',
      'enum AuditEventType lacks IMPORTED',
    ]);
  });
});
