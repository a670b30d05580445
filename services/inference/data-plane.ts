/**
 * The transport-free data plane of the Open Inference Protocol (after KServe's split): tensors in,
 * tensors out, for one model. The REST adapter (JSON and binary framing) and the gRPC adapter
 * translate their requests into `inferTensors()` and its answer back into their own framing;
 * neither holds inference logic of its own. Errors are the service's own (INF_…); each adapter
 * says them its way.
 */
import type { ModelRepository } from './model-repository.ts';
import type { ModelConfig } from './model-config.ts';
import { InvalidParamError, InvalidRequestError, ModelNotFoundError, PayloadTooLargeError } from './errors.ts';

/** Input datatypes every model accepts: its own FP32, FP16 (widened), UINT8 (raw pixels, normalised here). */
export const INPUT_DATATYPES = ['FP32', 'FP16', 'UINT8'] as const;
export type InputDatatype = (typeof INPUT_DATATYPES)[number];

const BYTES_PER_ELEMENT: Record<InputDatatype, number> = { FP32: 4, FP16: 2, UINT8: 1 };

/**
 * One input tensor as a protocol received it: `values` from JSON (flat or nested as `shape`), or
 * `raw` little-endian row-major bytes (the binary extension, gRPC's raw_input_contents).
 */
export interface TensorIn {
  name: string;
  datatype: string;
  shape: readonly number[];
  values?: unknown[];
  raw?: Uint8Array;
}

export interface InferCall {
  model: string;
  /** A served version; absent = the highest. */
  version?: string;
  id?: string;
  inputs: readonly TensorIn[];
  /** Names of the requested outputs; absent = all. */
  outputs?: readonly string[];
}

export interface TensorOut {
  name: string;
  datatype: 'FP32';
  shape: number[];
  data: Float32Array;
}

export interface InferAnswer {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: TensorOut[];
}

export interface DataPlaneLimits {
  /** Images (batch rows) in one request. */
  maxImagesPerRequest: number;
}

/** The model reference of a name and an optional version (`name:version`). */
export const modelRef = (name: string, version?: string): string => (version ? `${name}:${version}` : name);

/**
 * Throws INF_MODEL_NOT_FOUND unless the model exists and, when a version is named, serves or
 * declares that version.
 */
export function checkVersion(repo: ModelRepository, name: string, version?: string): void {
  const meta = repo.metadata(name);
  if (version && !repo.has(modelRef(name, version))) {
    throw new ModelNotFoundError(`model ${name} has no version ${version}${meta.versions.length > 0 ? ` (served: ${meta.versions.join(', ')})` : ''}`);
  }
}

/**
 * Model metadata for the Open Inference Protocol (of one version when named, else the highest);
 * each input lists the datatypes it takes besides its own.
 */
export function modelMetadata(repo: ModelRepository, name: string, version?: string) {
  checkVersion(repo, name, version);
  const meta = repo.metadata(name);
  const ref = modelRef(name, version);
  const config = repo.isReady(ref) ? repo.get(ref).config : undefined;
  const input = config?.input ?? meta.input;
  const output = config?.output ?? meta.output;
  return {
    name: meta.name,
    versions: meta.versions.length > 0 ? meta.versions : meta.version ? [meta.version] : [],
    platform: 'onnxruntime_onnx',
    inputs: input ? [{ name: input.name, datatype: input.datatype, shape: [...input.shape], accepted_datatypes: [...INPUT_DATATYPES] }] : [],
    outputs: output ? [{ name: output.name, datatype: 'FP32', shape: [...output.shape] }] : [],
  };
}

/** Product of the dimensions. */
export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Bytes a tensor of this datatype and shape takes in the binary framing; undefined for a datatype not taken. */
export function byteSize(datatype: string, shape: readonly number[]): number | undefined {
  const per = BYTES_PER_ELEMENT[datatype as InputDatatype];
  return per === undefined ? undefined : per * elementCount(shape);
}

/** Flattens nested `values` row-major; throws unless there are exactly `expected` finite numbers. */
function flatten(values: unknown[], expected: number, field: string, integers0to255: boolean): Float32Array {
  const out = new Float32Array(expected);
  let n = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (typeof node !== 'number' || !Number.isFinite(node)) throw new InvalidParamError(`expected finite numbers in ${field}, got ${JSON.stringify(node)}`);
    if (integers0to255 && !(Number.isInteger(node) && node >= 0 && node <= 255)) throw new InvalidParamError(`expected integers 0-255 (UINT8) in ${field}, got ${node}`);
    if (n >= expected) throw new InvalidParamError(`expected ${expected} values in ${field} (the product of its shape), got more`);
    out[n++] = node;
  };
  visit(values);
  if (n !== expected) throw new InvalidParamError(`expected ${expected} values in ${field} (the product of its shape), got ${n}`);
  return out;
}

/** Every half-precision bit pattern's value: FP16 input is widened by one lookup per element. */
let halfTable: Float32Array | undefined;
function halfToFloat(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    halfTable[h] = exponent === 0 ? sign * 2 ** -14 * (fraction / 1024)
      : exponent === 31 ? (fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY)
        : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return halfTable;
}

/** Little-endian raw bytes as numbers (FP32 and FP16 as values, UINT8 as 0-255). */
function decodeRaw(raw: Uint8Array, datatype: InputDatatype, count: number): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(count);
  if (datatype === 'FP32') for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  else if (datatype === 'FP16') {
    const table = halfToFloat();
    for (let i = 0; i < count; i++) out[i] = table[view.getUint16(i * 2, true)]!;
  } else out.set(raw.subarray(0, count));
  return out;
}

/** Raw 0-255 pixels in the model's layout to its input: (p / 255 - mean[c]) / std[c], in place. */
function normalisePixels(pixels: Float32Array, config: ModelConfig): Float32Array {
  const { channels, mean, std } = config.preprocess;
  const perImage = elementCount(config.input.shape.slice(1));
  const plane = perImage / channels;
  const nchw = config.input.layout === 'NCHW';
  for (let i = 0; i < pixels.length; i++) {
    const within = i % perImage;
    const c = nchw ? Math.floor(within / plane) : within % channels;
    pixels[i] = (pixels[i]! / 255 - mean[c]!) / std[c]!;
  }
  return pixels;
}

/**
 * Checks one request's input against the model and returns its rows (one Float32Array per image,
 * in the model's layout, normalised where the input was UINT8 pixels).
 */
export function readInput(config: ModelConfig, input: TensorIn, limits: DataPlaneLimits): Float32Array[] {
  if (input.name !== config.input.name) throw new InvalidParamError(`expected input ${config.input.name} for inputs[0].name, got ${JSON.stringify(input.name)}`);
  if (!(INPUT_DATATYPES as readonly string[]).includes(input.datatype)) {
    throw new InvalidParamError(`expected ${INPUT_DATATYPES.join(', ')} for inputs[0].datatype, got ${JSON.stringify(input.datatype)}`);
  }
  const datatype = input.datatype as InputDatatype;
  const declared = config.input.shape;
  const shape = input.shape;
  const fits = shape.length === declared.length && shape.every((d, i) => Number.isSafeInteger(d) && (declared[i] === -1 ? d >= 1 : d === declared[i]));
  if (!fits) throw new InvalidParamError(`expected shape [${declared.join(', ')}] (-1 = any batch) for inputs[0].shape, got [${shape.join(', ')}]`);
  const batch = shape[0]!;
  if (batch > limits.maxImagesPerRequest) throw new PayloadTooLargeError(`batch of ${batch}; the limit is ${limits.maxImagesPerRequest}`);
  const count = elementCount(shape);
  let data: Float32Array;
  if (input.raw !== undefined) {
    const expected = count * BYTES_PER_ELEMENT[datatype];
    if (input.raw.byteLength !== expected) {
      throw new InvalidParamError(`expected ${expected} bytes for inputs[0] (${datatype} [${shape.join(', ')}]), got ${input.raw.byteLength}`);
    }
    data = decodeRaw(input.raw, datatype, count);
    if (datatype !== 'UINT8' && data.some((v) => !Number.isFinite(v))) throw new InvalidParamError('expected finite numbers in inputs[0], got NaN or infinity');
  } else if (input.values !== undefined) {
    data = flatten(input.values, count, 'inputs[0].data', datatype === 'UINT8');
  } else {
    throw new InvalidRequestError('missing field inputs[0].data (or parameters.binary_data_size)');
  }
  if (datatype === 'UINT8') normalisePixels(data, config);
  const perImage = count / batch;
  return Array.from({ length: batch }, (_, i) => data.subarray(i * perImage, (i + 1) * perImage));
}

/**
 * Runs one Open Inference Protocol request: one input tensor (FP32, FP16 or UINT8) through the
 * model's batcher, its raw output (logits or probabilities, as the config says) back as FP32.
 * @example await inferTensors(app.models, { model: 'resnet', inputs: [{ name: 'input', datatype: 'UINT8', shape: [1, 1, 28, 28], raw }] }, { maxImagesPerRequest: 64 })
 */
export async function inferTensors(repo: ModelRepository, call: InferCall, limits: DataPlaneLimits): Promise<InferAnswer> {
  checkVersion(repo, call.model, call.version);
  const ref = modelRef(call.model, call.version);
  const { config } = repo.get(ref);
  if (call.inputs.length !== 1) throw new InvalidParamError(`expected 1 input tensor (${config.input.name}) for inputs, got ${call.inputs.length}`);
  for (const name of call.outputs ?? []) {
    if (name !== config.output.name) throw new InvalidRequestError(`expected output ${config.output.name} for outputs[].name, got ${JSON.stringify(name)}`);
  }
  const rows = readInput(config, call.inputs[0]!, limits);
  const outputs = await repo.infer(ref, rows);
  const classes = config.labels.length;
  const data = new Float32Array(rows.length * classes);
  outputs.forEach((row, i) => data.set(row, i * classes));
  return {
    model_name: call.model,
    model_version: config.version,
    ...(call.id !== undefined ? { id: call.id } : {}),
    outputs: [{ name: config.output.name, datatype: 'FP32', shape: [rows.length, classes], data }],
  };
}
