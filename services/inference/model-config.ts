import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';

export type Layout = 'NCHW' | 'NHWC';
export type OutputKind = 'logits' | 'probabilities';
export type Voting = 'soft' | 'hard' | 'weighted';

export interface ModelFileRef {
  file: string;
  sha256: string;
}

/** A model's declaration, `models/<name>/config.json`, after validation. */
export interface ModelConfig extends ModelFileRef {
  name: string;
  version: string;
  architecture: string;
  input: { name: string; shape: number[]; datatype: 'FP32'; layout: Layout };
  output: { name: string; shape: number[]; kind: OutputKind };
  preprocess: { channels: 1 | 3; resize: number; crop: number; mean: number[]; std: number[] };
  labels: string[];
  accuracy?: { dataset?: string; images?: number; top1?: number; [key: string]: unknown };
  parameters?: number;
  training?: Record<string, unknown>;
  variants: Record<string, ModelFileRef>;
  /** Absolute folder holding config.json. */
  dir: string;
}

/** `models/ensembles/<name>.json` after validation. */
export interface EnsembleConfig {
  name: string;
  members: string[];
  voting: Voting;
  weights: number[];
}

/** A config that breaks the format; the message names the model and the field. */
export class ModelConfigError extends Error {
  constructor(readonly model: string, readonly field: string, expected: string, got: unknown) {
    super(`model ${model}: expected ${expected} for ${field}, got ${JSON.stringify(got) ?? String(got)}`);
    this.name = 'ModelConfigError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Reader {
  constructor(readonly model: string) {}
  fail(field: string, expected: string, got: unknown): never {
    throw new ModelConfigError(this.model, field, expected, got);
  }
  obj(v: unknown, field: string): Obj {
    return isObj(v) ? v : this.fail(field, 'an object', v);
  }
  str(v: unknown, field: string): string {
    return typeof v === 'string' && v.trim() !== '' ? v : this.fail(field, 'a non-empty string', v);
  }
  optStr(v: unknown, field: string, fallback: string): string {
    return v === undefined ? fallback : this.str(v, field);
  }
  oneOf<T extends string>(v: unknown, field: string, values: readonly T[], fallback?: T): T {
    if (v === undefined && fallback !== undefined) return fallback;
    return values.includes(v as T) ? (v as T) : this.fail(field, `one of ${values.join(', ')}`, v);
  }
  int(v: unknown, field: string, min: number): number {
    return Number.isInteger(v) && (v as number) >= min ? (v as number) : this.fail(field, `an integer >= ${min}`, v);
  }
  numbers(v: unknown, field: string, length: number, positive: boolean): number[] {
    const ok = Array.isArray(v) && v.length === length &&
      v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
    return ok ? (v as number[]) : this.fail(field, `${length} ${positive ? 'positive ' : ''}finite number(s)`, v);
  }
  shape(v: unknown, field: string, rank: number): number[] {
    const ok = Array.isArray(v) && v.length === rank &&
      v.every((d, i) => Number.isInteger(d) && ((d as number) > 0 || (i === 0 && d === -1)));
    return ok ? (v as number[]) : this.fail(field, `a rank-${rank} shape of positive integers (batch may be -1)`, v);
  }
  strings(v: unknown, field: string, distinct: boolean): string[] {
    const ok = Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') && (!distinct || new Set(v).size === v.length);
    return ok ? (v as string[]) : this.fail(field, `a non-empty array of ${distinct ? 'distinct ' : ''}strings`, v);
  }
  sha(v: unknown, field: string): string {
    return typeof v === 'string' && /^[0-9a-f]{64}$/i.test(v) ? v.toLowerCase() : this.fail(field, 'a 64-digit hex sha256 (sha256sum <file>)', v);
  }
  /** A file name that stays inside the model's folder, before symlinks are looked at. */
  file(v: unknown, field: string, dir: string): string {
    const name = this.str(v, field);
    const rel = relative(dir, resolve(dir, name));
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || isAbsolute(name)) this.fail(field, "a path inside the model's folder", v);
    return name;
  }
}

/**
 * Validates a parsed config.json. `dir` is the model's folder; `fallbackName` names the model in
 * messages until the config's own name is known.
 * @example validateModelConfig(JSON.parse(text), '/srv/models/resnet', 'resnet')
 */
export function validateModelConfig(raw: unknown, dir: string, fallbackName = basename(dir)): ModelConfig {
  const r0 = new Reader(fallbackName);
  const c = r0.obj(raw, 'config');
  const name = r0.str(c.name, 'name');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) r0.fail('name', 'letters, digits, _ . - (used in URLs)', name);
  const r = new Reader(name);

  const input = r.obj(c.input, 'input');
  const layout = r.oneOf(input.layout, 'input.layout', ['NCHW', 'NHWC'] as const, 'NCHW');
  const inputShape = r.shape(input.shape, 'input.shape', 4);
  const output = r.obj(c.output, 'output');
  const outputShape = r.shape(output.shape, 'output.shape', 2);

  const pre = r.obj(c.preprocess, 'preprocess');
  const channels = pre.channels === 1 || pre.channels === 3 ? pre.channels : r.fail('preprocess.channels', '1 or 3', pre.channels);
  const resizeTo = r.int(pre.resize, 'preprocess.resize', 1);
  const crop = r.int(pre.crop, 'preprocess.crop', 1);
  if (crop > resizeTo) r.fail('preprocess.crop', `an integer <= preprocess.resize (${resizeTo})`, crop);

  const [, d1, d2, d3] = inputShape as [number, number, number, number];
  const [c_, h, w] = layout === 'NCHW' ? [d1, d2, d3] : [d3, d1, d2];
  if (c_ !== channels || h !== crop || w !== crop) {
    r.fail('input.shape', `${layout} with ${channels} channel(s) and ${crop}x${crop} pixels (from preprocess)`, inputShape);
  }

  const labels = r.strings(c.labels, 'labels', false);
  if (outputShape[1] !== labels.length) r.fail('output.shape', `[-1, ${labels.length}] (one score per label)`, outputShape);

  const variants: Record<string, ModelFileRef> = {};
  if (c.variants != null) {
    for (const [key, value] of Object.entries(r.obj(c.variants, 'variants'))) {
      const v = r.obj(value, `variants.${key}`);
      variants[key] = { file: r.file(v.file, `variants.${key}.file`, dir), sha256: r.sha(v.sha256, `variants.${key}.sha256`) };
    }
  }

  return {
    name,
    version: c.version === undefined ? '1' : String(c.version),
    architecture: r.optStr(c.architecture, 'architecture', 'unknown'),
    file: r.file(c.file ?? 'model.onnx', 'file', dir),
    sha256: r.sha(c.sha256, 'sha256'),
    input: {
      name: r.str(input.name, 'input.name'),
      shape: inputShape,
      datatype: r.oneOf(input.datatype, 'input.datatype', ['FP32'] as const, 'FP32'),
      layout,
    },
    output: {
      name: r.str(output.name, 'output.name'),
      shape: outputShape,
      kind: r.oneOf(output.kind, 'output.kind', ['logits', 'probabilities'] as const),
    },
    preprocess: {
      channels,
      resize: resizeTo,
      crop,
      mean: r.numbers(pre.mean, 'preprocess.mean', channels, false),
      std: r.numbers(pre.std, 'preprocess.std', channels, true),
    },
    labels,
    // Optional fields may be absent or null (an example config with nothing measured yet).
    accuracy: c.accuracy == null ? undefined : (r.obj(c.accuracy, 'accuracy') as ModelConfig['accuracy']),
    parameters: c.parameters == null ? undefined : r.int(c.parameters, 'parameters', 0),
    training: c.training == null ? undefined : r.obj(c.training, 'training'),
    variants,
    dir,
  };
}

/** Reads and validates `<dir>/config.json`. */
export async function loadModelConfig(dir: string): Promise<ModelConfig> {
  const path = join(dir, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ModelConfigError(basename(dir), 'config.json', 'readable JSON', (error as Error).message);
  }
  return validateModelConfig(raw, resolve(dir));
}

/** Which numbered versions of a model are served (Triton's `version_policy`). */
export type VersionPolicy = { latest: number } | { all: true } | { specific: string[] };

/** Reads `version_policy`: `{"latest": {"num_versions": N}}` (default N = 1), `{"all": {}}` or `{"specific": {"versions": [..]}}`. */
export function readVersionPolicy(raw: unknown, model: string): VersionPolicy {
  const r = new Reader(model);
  if (raw === undefined || raw === null) return { latest: 1 };
  const c = r.obj(raw, 'version_policy');
  const keys = Object.keys(c);
  if (keys.length !== 1) r.fail('version_policy', 'one of {"latest": {"num_versions": N}}, {"all": {}}, {"specific": {"versions": [...]}}', raw);
  if ('latest' in c) {
    const n = r.obj(c.latest, 'version_policy.latest').num_versions;
    return { latest: n === undefined ? 1 : r.int(n, 'version_policy.latest.num_versions', 1) };
  }
  if ('all' in c) return { all: true };
  if ('specific' in c) {
    const versions = r.obj(c.specific, 'version_policy.specific').versions;
    const ok = Array.isArray(versions) && versions.length > 0 && versions.every((v) => (Number.isInteger(v) && v >= 1) || (typeof v === 'string' && /^[1-9]\d*$/.test(v)));
    if (!ok) r.fail('version_policy.specific.versions', 'a non-empty array of version numbers >= 1', versions);
    return { specific: [...new Set((versions as (number | string)[]).map(String))] };
  }
  return r.fail('version_policy', 'latest, all or specific', raw);
}

/** The numbered version folders (`1/`, `2/`, ...) of a model folder, in ascending order. */
export async function findVersionDirs(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const versions: string[] = [];
  for (const name of names) {
    if (!/^[1-9]\d{0,8}$/.test(name)) continue;
    if (await stat(join(dir, name)).then((s) => s.isDirectory(), () => false)) versions.push(name);
  }
  return versions.sort((a, b) => Number(a) - Number(b));
}

async function readJson(path: string, model: string, field: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ModelConfigError(model, field, 'readable JSON', (error as Error).message);
  }
}

/**
 * Every version of a model to serve, oldest first. A folder without numbered subfolders is one
 * version: its config.json as it stands (`version` default "1"). With numbered subfolders
 * (`1/`, `2/`, ... as Triton's repository), each is a version: the model's config.json, with the
 * fields of `<n>/config.json` where there is one (its own `file`, `sha256`, `variants`, ...),
 * files resolved inside `<n>/`, `version` = the folder's number; `version_policy` picks which.
 * `override` replaces the folder's config.json (the V2 repository load's `parameters.config`).
 * @example await loadModelVersions('/srv/models/resnet') // [config of 1/, config of 2/] with {"all": {}}
 */
export async function loadModelVersions(dir: string, override?: unknown): Promise<ModelConfig[]> {
  const model = basename(dir);
  const raw = override === undefined ? await readJson(join(dir, 'config.json'), model, 'config.json') : override;
  const available = await findVersionDirs(dir);
  if (available.length === 0) return [validateModelConfig(raw, resolve(dir), model)];
  const r = new Reader(model);
  const root = r.obj(raw, 'config');
  const policy = readVersionPolicy(root.version_policy, model);
  let chosen: string[];
  if ('latest' in policy) chosen = available.slice(-policy.latest);
  else if ('all' in policy) chosen = available;
  else {
    const missing = policy.specific.filter((v) => !available.includes(v));
    if (missing.length > 0) r.fail('version_policy.specific.versions', `versions present as folders (${available.join(', ')})`, policy.specific);
    chosen = available.filter((v) => policy.specific.includes(v));
  }
  return Promise.all(chosen.map(async (version) => {
    const own = join(dir, version, 'config.json');
    const extra = await stat(own).then((s) => s.isFile(), () => false) ? await readJson(own, model, `${version}/config.json`) : {};
    const fields = r.obj(extra, `${version}/config.json`);
    if (fields.name !== undefined && fields.name !== root.name) r.fail(`${version}/config.json name`, `the model's name ${JSON.stringify(root.name)} (or none)`, fields.name);
    return validateModelConfig({ ...root, ...fields, version }, resolve(dir, version), model);
  }));
}

/** The file a config serves: the named variant where declared, else `file`. */
export function selectModelFile(config: ModelConfig, variant?: string): ModelFileRef & { variant?: string } {
  const chosen = variant === undefined ? undefined : config.variants[variant];
  return chosen ? { ...chosen, variant } : { file: config.file, sha256: config.sha256 };
}

/**
 * Resolves the model file (symlinks included) and checks that it stays inside the model's folder,
 * is a regular file, and hashes to the declared sha256. Returns the real path to load.
 */
export async function verifyModelFile(config: ModelConfig, ref: ModelFileRef = config): Promise<string> {
  const dirReal = await realpath(config.dir);
  let fileReal: string;
  try {
    fileReal = await realpath(join(config.dir, ref.file));
  } catch {
    throw new Error(`model ${config.name}: file ${ref.file} is missing`);
  }
  const rel = relative(dirReal, fileReal);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new Error(`model ${config.name}: file ${ref.file} resolves outside the model's folder`);
  }
  if (!(await stat(fileReal)).isFile()) throw new Error(`model ${config.name}: ${ref.file} is not a regular file`);
  const digest = await sha256File(fileReal);
  if (digest !== ref.sha256) {
    throw new Error(`model ${config.name}: sha256 of ${ref.file} is ${digest}, config declares ${ref.sha256} (truncated, corrupt or replaced file)`);
  }
  return fileReal;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Subfolders of the repository that hold a config.json, sorted by folder name. */
export async function findModelDirs(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true });
  const dirs: string[] = [];
  // Symbolic links count too (Kubernetes mounts volumes through them); stat follows them.
  const isDir = async (name: string) => stat(join(root, name)).then((s) => s.isDirectory(), () => false);
  const names = entries.map((e) => e.name).sort((a, b) => a.localeCompare(b));
  for (const name of names) {
    if (!(await isDir(name))) continue;
    const dir = resolve(root, name);
    if (await stat(join(dir, 'config.json')).then((s) => s.isFile(), () => false)) dirs.push(dir);
  }
  return dirs;
}

/** Validates one ensemble file; member existence is checked by the repository. */
export function validateEnsembleConfig(raw: unknown, fallbackName: string): EnsembleConfig {
  const r0 = new Reader(fallbackName);
  const c = r0.obj(raw, 'ensemble');
  const name = r0.str(c.name ?? fallbackName, 'name');
  const r = new Reader(`ensemble ${name}`);
  const members = r.strings(c.members, 'members', true);
  const weights = c.weights === undefined ? members.map(() => 1) : r.numbers(c.weights, 'weights', members.length, false);
  if (weights.some((w) => w < 0) || weights.every((w) => w === 0)) r.fail('weights', 'non-negative weights, not all zero', weights);
  return { name, members, voting: r.oneOf(c.voting, 'voting', ['soft', 'hard', 'weighted'] as const, 'soft'), weights };
}

/** Reads `<root>/ensembles/*.json`; a missing folder means no ensembles. Invalid files are reported, not thrown. */
export async function loadEnsembleConfigs(root: string): Promise<{ ensembles: EnsembleConfig[]; errors: Error[] }> {
  const dir = join(root, 'ensembles');
  const files = await readdir(dir).catch(() => [] as string[]);
  const ensembles: EnsembleConfig[] = [];
  const errors: Error[] = [];
  for (const file of files.filter((f) => f.endsWith('.json')).sort()) {
    try {
      ensembles.push(validateEnsembleConfig(JSON.parse(await readFile(join(dir, file), 'utf8')), basename(file, '.json')));
    } catch (error) {
      errors.push(error instanceof ModelConfigError ? error : new Error(`ensemble ${file}: ${(error as Error).message}`));
    }
  }
  return { ensembles, errors };
}
