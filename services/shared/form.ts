import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { defineIntakeErrors } from './errors.ts';
import type { JsonSchema } from './openapi.ts';

export type IntakeErrors = ReturnType<typeof defineIntakeErrors>;

/** One Ajv for the whole process: OpenAPI 3.1 schemas are JSON Schema 2020-12. */
export const ajv = new Ajv2020({
  strict: false,
  allErrors: false,
  validateFormats: false,
  useDefaults: false,
});
ajv.addKeyword({ keyword: 'x-params-by-op' });

/** What a field's schema says its value is, which decides how its text is read. */
type Kind = 'integer' | 'number' | 'boolean' | 'string' | 'list' | 'json';

function merged(schema: JsonSchema): JsonSchema {
  if (!schema.allOf) return schema;
  return schema.allOf.reduce<JsonSchema>((acc, branch) => ({ ...merged(branch), ...acc }), { ...schema, allOf: undefined });
}

function kindOf(schema: JsonSchema): Kind {
  const s = merged(schema);
  if (s.type === 'array') {
    const items = s.items ? merged(s.items) : {};
    return items.type === 'array' || items.type === 'object' ? 'json' : 'list';
  }
  if (s.type === 'object') return 'json';
  if (s.type === 'integer' || s.type === 'number' || s.type === 'boolean') return s.type;
  return 'string';
}

function toNumber(text: string): number | string {
  const trimmed = text.trim();
  if (trimmed === '') return text;
  const value = Number(trimmed);
  // Non-finite or non-numeric text stays text, so the schema reports a type error for it.
  return Number.isFinite(value) ? value : text;
}

function parseJson(text: string, name: string, errors: IntakeErrors): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw withParam(new errors.InvalidParam(`expected JSON text for ${name}, got ${preview(text)}`), name);
  }
}

/**
 * Read one field's raw value into the type its schema declares. Text is parsed (numbers,
 * `true`/`false`, `min,max` lists, JSON); values that are already typed (from a JSON body)
 * pass through, except that strings inside them are read the same way.
 */
export function coerceValue(value: unknown, schema: JsonSchema, name: string, errors: IntakeErrors): unknown {
  const kind = kindOf(schema);
  if (Array.isArray(value) && kind !== 'list' && kind !== 'json') {
    if (value.length !== 1) throw new errors.InvalidRequest(`expected one value for ${name}, got ${value.length}`);
    value = value[0];
  }
  switch (kind) {
    case 'integer':
    case 'number':
      return typeof value === 'string' ? toNumber(value) : value;
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'list': {
      let items: unknown = value;
      if (Array.isArray(items) && items.length === 1 && typeof items[0] === 'string') items = items[0];
      if (typeof items === 'string') {
        const text = items.trim();
        items = text.startsWith('[') ? parseJson(text, name, errors) : text === '' ? [] : text.split(',');
      }
      // A lone number is a list of one, from JSON as from text (`0.4` as `"0.4"`).
      if (typeof items === 'number') items = [items];
      if (!Array.isArray(items)) return items;
      const itemKind = kindOf(merged(schema).items ?? {});
      return items.map((item) => (typeof item === 'string' && itemKind !== 'string' ? toNumber(item) : item));
    }
    case 'json': {
      let parsed: unknown = value;
      if (Array.isArray(parsed) && parsed.length === 1 && typeof parsed[0] === 'string') parsed = parsed[0];
      return typeof parsed === 'string' ? parseJson(parsed, name, errors) : parsed;
    }
    default:
      return value;
  }
}

/** Coerce every known property of an object; unknown ones are kept for the schema to refuse. */
export function coerceObject(
  values: Record<string, unknown>,
  schema: JsonSchema,
  errors: IntakeErrors,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    const property = schema.properties?.[name];
    out[name] = property ? coerceValue(value, property, name, errors) : value;
  }
  return out;
}

const compiled = new WeakMap<JsonSchema, ValidateFunction>();

/**
 * Validate `value` against `schema` and throw the service's error for the first problem:
 * an unknown or missing field is an invalid request, anything else an invalid parameter.
 * `prefix` names the container in messages (e.g. `ops[2].`).
 */
export function validateAgainst(value: unknown, schema: JsonSchema, errors: IntakeErrors, prefix = ''): void {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  if (validate(value)) return;
  throw toError(validate.errors?.[0], value, errors, prefix);
}

function toError(error: ErrorObject | undefined, root: unknown, errors: IntakeErrors, prefix: string): Error {
  if (!error) return new errors.InvalidParam('invalid request');
  const path = error.instancePath.split('/').filter(Boolean);
  const field = prefix + (path[0] ?? '') + path.slice(1).map((p) => `[${p}]`).join('');
  const got = preview(path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], root));
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return withParam(new errors.InvalidRequest(`unexpected field ${prefix}${String(params.additionalProperty)}`), String(params.additionalProperty));
    case 'required':
      return withParam(new errors.InvalidRequest(`missing field ${prefix}${String(params.missingProperty)}`), String(params.missingProperty));
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return withParam(new errors.InvalidParam(`expected a number ${String(params.comparison)} ${String(params.limit)} for ${field}, got ${got}`), field);
    case 'type':
      return withParam(new errors.InvalidParam(`expected ${describeType(params.type)} for ${field}, got ${got}`), field);
    case 'enum':
      return withParam(new errors.InvalidParam(`expected one of ${(params.allowedValues as unknown[]).join(', ')} for ${field}, got ${got}`), field);
    case 'minItems':
    case 'maxItems':
      return withParam(new errors.InvalidParam(`expected ${error.keyword === 'minItems' ? 'at least' : 'at most'} ${String(params.limit)} items for ${field}, got ${got}`), field);
    case 'pattern':
      return withParam(new errors.InvalidParam(`expected a value matching ${String(params.pattern)} for ${field}, got ${got}`), field);
    default:
      return withParam(new errors.InvalidParam(`expected a value that ${error.message ?? 'is valid'} for ${field}, got ${got}`), field);
  }
}

function withParam<E extends Error>(error: E, param: string): E {
  Object.assign(error, { param });
  return error;
}

function describeType(type: unknown): string {
  if (type === 'integer') return 'an integer';
  if (type === 'number') return 'a finite number';
  if (type === 'boolean') return 'true or false';
  if (type === 'array') return 'a list';
  return `a ${String(type)}`;
}

/** A value shortened for an error message, so huge inputs never echo back whole. */
export function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // JSON nested deeper than the stack (a 64 KiB field holds ~30000 levels) must not turn a 400 into a 500.
    text = Array.isArray(value) ? '[...]' : typeof value === 'object' ? '{...}' : 'an unprintable value';
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
