import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** A JSON Schema node as it appears in `openapi.yaml` (after `$ref`s are inlined). */
export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  allOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  format?: string;
  additionalProperties?: boolean | JsonSchema;
  [keyword: string]: unknown;
};

export type ServiceName = 'augment' | 'inference';

/** Where the one contract of both services lives. */
export const SPEC_PATH = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));

type Spec = {
  paths: Record<string, Record<string, unknown> & { 'x-service'?: string }>;
  components: { schemas: Record<string, JsonSchema>; [k: string]: unknown };
  [k: string]: unknown;
};

let cached: Spec | undefined;

/** The parsed `openapi.yaml`, `$ref`s left as they are (what Swagger UI is given). */
export function loadSpec(): Spec {
  // The contract is our own file, and every operation path reuses the shared bodies by alias:
  // yaml's guard against alias bombs (100 aliases) does not apply to it.
  cached ??= parse(readFileSync(SPEC_PATH, 'utf8'), { maxAliasCount: -1 }) as Spec;
  return cached;
}

/** Inline every local `$ref` (`#/components/...`) below `node`; the spec has no cycles. */
export function deref<T>(node: T, spec: Spec = loadSpec()): T {
  if (Array.isArray(node)) return node.map((item) => deref(item, spec)) as T;
  if (node === null || typeof node !== 'object') return node;
  const record = node as Record<string, unknown>;
  if (typeof record.$ref === 'string') {
    const target = resolvePointer(spec, record.$ref);
    const { $ref: _ignored, ...siblings } = record;
    return deref({ ...(target as object), ...siblings }, spec) as T;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) out[key] = deref(value, spec);
  return out as T;
}

function resolvePointer(spec: Spec, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  let node: unknown = spec;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = (node as Record<string, unknown> | undefined)?.[key];
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return node;
}

/** A named schema from `components.schemas`, dereferenced. */
export function componentSchema(name: string): JsonSchema {
  const schema = loadSpec().components.schemas[name];
  if (!schema) throw new Error(`openapi.yaml has no components.schemas.${name}`);
  return deref(schema);
}

function findOperation(operationId: string): Record<string, unknown> {
  for (const item of Object.values(loadSpec().paths)) {
    for (const operation of Object.values(item)) {
      if (operation && typeof operation === 'object' && (operation as { operationId?: string }).operationId === operationId) {
        return operation as Record<string, unknown>;
      }
    }
  }
  throw new Error(`openapi.yaml has no operation ${operationId}`);
}

/** The request body schema of an operation for one media type, dereferenced. */
export function requestBodySchema(operationId: string, mediaType: string): JsonSchema {
  const body = deref(findOperation(operationId).requestBody) as
    | { content?: Record<string, { schema?: JsonSchema }> }
    | undefined;
  const schema = body?.content?.[mediaType]?.schema;
  if (!schema) throw new Error(`operation ${operationId} has no ${mediaType} request body`);
  return schema;
}

/** The media types an operation's request body may have, as the contract lists them. */
export function requestMediaTypes(operationId: string): string[] {
  const body = deref(findOperation(operationId).requestBody) as { content?: Record<string, unknown> } | undefined;
  return Object.keys(body?.content ?? {});
}

/**
 * Merge an object schema's `allOf` branches into one object schema, so that
 * `additionalProperties: false` sees every property of every branch.
 */
export function flattenObject(schema: JsonSchema): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required = new Set<string>();
  const visit = (node: JsonSchema) => {
    for (const branch of node.allOf ?? []) visit(branch);
    Object.assign(properties, node.properties ?? {});
    for (const name of node.required ?? []) required.add(name);
  };
  visit(schema);
  return { type: 'object', properties, required: [...required], additionalProperties: false };
}

/** Names of the `format: binary` properties of a (flattened) multipart schema: its file fields. */
export function fileFields(schema: JsonSchema): string[] {
  return Object.entries(schema.properties ?? {})
    .filter(([, property]) => property.format === 'binary')
    .map(([name]) => name);
}

/** The part of the spec one service implements: paths whose `x-service` is the service or `both`. */
export function documentFor(service: ServiceName): Record<string, unknown> {
  const spec = loadSpec();
  const paths: Spec['paths'] = {};
  for (const [path, item] of Object.entries(spec.paths)) {
    const owner = item['x-service'];
    if (owner === service || owner === 'both') paths[path] = item;
  }
  const info = spec.info as Record<string, unknown>;
  return { ...spec, info: { ...info, title: `augserve ${service}` }, paths };
}

type Parameter = { name: string; in: string; required?: boolean; schema?: JsonSchema; content?: Record<string, { schema?: JsonSchema }> };

/**
 * An operation's query parameters as one object schema (unknown parameters refused), so they are
 * coerced and validated like a form's fields. A parameter given as `content: application/json`
 * (JSON in the query string) contributes that schema.
 */
export function queryParametersSchema(operationId: string): JsonSchema {
  const parameters = (deref(findOperation(operationId).parameters) ?? []) as Parameter[];
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const parameter of parameters.filter((p) => p.in === 'query')) {
    const schema = parameter.schema ?? parameter.content?.['application/json']?.schema;
    if (!schema) throw new Error(`query parameter ${parameter.name} of ${operationId} has no schema`);
    properties[parameter.name] = schema;
    if (parameter.required) required.push(parameter.name);
  }
  return { type: 'object', properties, required, additionalProperties: false };
}
