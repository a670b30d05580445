/**
 * The binary tensor data extension of the Open Inference Protocol's REST framing (as Triton
 * documents it): a JSON header of `Inference-Header-Content-Length` bytes, then each tensor's raw
 * little-endian row-major bytes, in order. Inputs say their size in `parameters.binary_data_size`;
 * the sizes must add up to the bytes after the header exactly. Every claim is checked against the
 * body already read (bounded by the route's body limit), so no claim allocates anything.
 */
import { InvalidParamError, InvalidRequestError } from '../errors.ts';
import type { components } from '../../shared/api-types.ts';
import type { InferAnswer, TensorIn } from '../data-plane.ts';

export const HEADER_LENGTH = 'inference-header-content-length';

/** A V2 inference request's JSON, as far as the framing needs it (the rest is validated against openapi.yaml). */
export interface V2RequestJson {
  id?: string;
  parameters?: { binary_data_output?: unknown; [key: string]: unknown };
  inputs: { name: string; shape: number[]; datatype: string; data?: unknown[]; parameters?: { binary_data_size?: unknown; [key: string]: unknown } }[];
  outputs?: { name: string; parameters?: { binary_data?: unknown; [key: string]: unknown } }[];
}

/**
 * Splits a body into its JSON header and the tensor bytes after it. Without the header length the
 * whole body is JSON.
 * @example splitBody(body, request.headers['inference-header-content-length'])
 */
export function splitBody(body: Buffer, headerLength: string | string[] | undefined): { json: Buffer; tail: Buffer } {
  if (headerLength === undefined) return { json: body, tail: body.subarray(body.length) };
  const text = Array.isArray(headerLength) ? headerLength.join(',') : headerLength.trim();
  if (!/^\d{1,15}$/.test(text)) throw new InvalidParamError(`expected a non-negative integer for the Inference-Header-Content-Length header, got ${JSON.stringify(text.slice(0, 40))}`);
  const length = Number(text);
  if (length > body.length) {
    throw new InvalidRequestError(`Inference-Header-Content-Length says the JSON header is ${length} bytes, the body has only ${body.length}`);
  }
  return { json: body.subarray(0, length), tail: body.subarray(length) };
}

/** Parses the JSON (header); a 400 that says where it breaks. */
export function parseJson(json: Buffer): unknown {
  if (json.length === 0) throw new InvalidRequestError('empty body: expected a JSON inference request');
  try {
    return JSON.parse(json.toString('utf8'));
  } catch (error) {
    throw new InvalidRequestError(`the body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The request's input tensors: `data` from the JSON, or the bytes after the header that
 * `parameters.binary_data_size` claims, taken in input order. The claims must add up to the tail exactly.
 */
export function readInputs(request: V2RequestJson, tail: Buffer): TensorIn[] {
  let offset = 0;
  const inputs = request.inputs.map((input, i): TensorIn => {
    const field = `inputs[${i}].parameters.binary_data_size`;
    const size = input.parameters?.binary_data_size;
    const base = { name: input.name, datatype: input.datatype, shape: input.shape };
    if (size === undefined) return { ...base, values: input.data };
    if (input.data !== undefined) throw new InvalidRequestError(`inputs[${i}] has both data and ${field}; send one`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new InvalidParamError(`expected a non-negative integer for ${field}, got ${JSON.stringify(size) ?? String(size)}`);
    }
    if (size > tail.length - offset) {
      throw new InvalidRequestError(`${field} claims ${size} bytes; only ${tail.length - offset} remain after the JSON header and the inputs before it`);
    }
    const raw = tail.subarray(offset, offset + size);
    offset += size;
    return { ...base, raw };
  });
  if (offset !== tail.length) {
    throw new InvalidRequestError(`the body has ${tail.length} bytes after the JSON header; the inputs' binary_data_size add up to ${offset}`);
  }
  return inputs;
}

function flag(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InvalidParamError(`expected true or false for ${field}, got ${JSON.stringify(value)}`);
}

/**
 * Which outputs go back as binary: an output's own `parameters.binary_data`, else the request's
 * `parameters.binary_data_output`, else JSON.
 */
export function binaryOutputs(request: V2RequestJson): (name: string) => boolean {
  const fallback = flag(request.parameters?.binary_data_output, 'parameters.binary_data_output') ?? false;
  const own = new Map<string, boolean>();
  request.outputs?.forEach((output, i) => {
    const wanted = flag(output.parameters?.binary_data, `outputs[${i}].parameters.binary_data`);
    if (wanted !== undefined) own.set(output.name, wanted);
  });
  return (name) => own.get(name) ?? fallback;
}

/** Little-endian bytes of a float32 tensor. */
function bytesOf(data: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(data.length * 4);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i]!, i * 4);
  return out;
}

/**
 * The answer in REST framing: plain JSON when no output is binary; otherwise a JSON header
 * (binary outputs carry `parameters.binary_data_size` instead of `data`) followed by their bytes,
 * with the header's length to send as Inference-Header-Content-Length.
 */
export function encodeAnswer(answer: InferAnswer, binary: (name: string) => boolean): { json: components['schemas']['V2InferResponse'] } | { body: Buffer; headerLength: number } {
  const tails: Buffer[] = [];
  const outputs = answer.outputs.map(({ data, ...tensor }): components['schemas']['V2InferResponse']['outputs'][number] => {
    if (!binary(tensor.name)) return { ...tensor, data: Array.from(data) };
    const bytes = bytesOf(data);
    tails.push(bytes);
    return { ...tensor, parameters: { binary_data_size: bytes.length } };
  });
  const header = { ...answer, outputs };
  if (tails.length === 0) return { json: header };
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...tails]), headerLength: json.length };
}
