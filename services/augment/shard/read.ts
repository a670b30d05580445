import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { IntakeErrors } from '../../shared/form.ts';
import { MAX_MASKS } from '../targets/request.ts';

/** Image member extensions a sample may have (one of them, exactly once). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'avif', 'tif', 'tiff'] as const;
const MASK_EXTENSION = /^mask(\d?)\.png$/;

export interface ShardLimits {
  /** Bytes of the whole tar. */
  shardBytes: number;
  /** Members of the whole tar. */
  members: number;
  /** Bytes of one image or mask member. */
  fileBytes: number;
  /** Bytes of one `.json` or `.cls` member. */
  fieldBytes: number;
}

/** One sample as read: its members by extension, or the first problem found with them. */
export interface ShardSample {
  kind: 'sample';
  key: string;
  members: Map<string, Buffer>;
  /** Set when the sample cannot be augmented (its members are then dropped, not kept). */
  error?: Error;
}

/** A member whose name cannot be a key (it is never echoed as a name). */
export interface InvalidMember {
  kind: 'invalid';
  position: number;
  error: Error;
}

export type ShardItem = ShardSample | InvalidMember;

/** Keys are relative paths; anything an extractor could write outside its folder is refused. */
function unsafeName(name: string): string | undefined {
  if (Buffer.byteLength(name) > 255) return 'a name over 255 bytes';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(name)) return 'a control character or backslash in the name';
  if (name.startsWith('/')) return 'an absolute name';
  const segments = name.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) return 'an empty, . or .. path segment';
  const last = segments.at(-1)!;
  if (last.startsWith('.')) return 'a name with no key before its first dot';
  return undefined;
}

function splitName(name: string): { key: string; ext: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  return dot < 0 ? { key: name, ext: '' } : { key: name.slice(0, dot), ext: name.slice(dot + 1) };
}

/** What a member of a sample may be, or why it may not. */
function memberProblem(ext: string, type: string | null | undefined): string | undefined {
  if (type !== 'file' && type !== 'contiguous-file') return `a ${type ?? 'typeless'} member (only regular files are read)`;
  if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext) || ext === 'cls' || ext === 'json') return undefined;
  const mask = MASK_EXTENSION.exec(ext);
  if (mask && (mask[1] === '' || Number(mask[1]) < MAX_MASKS)) return undefined;
  return `an unknown member type .${ext} (expected an image, .cls, .json, .mask.png or .mask0.png ... .mask${MAX_MASKS - 1}.png)`;
}

/**
 * The tar's bytes fed to the extractor with backpressure, counted against the shard limit.
 * A problem (over the limit, the client gone) destroys the extractor with it.
 */
async function feed(input: Readable, extract: tar.Extract, limits: ShardLimits, errors: IntakeErrors, state: { bytes: number }) {
  // streamx's flag, set as soon as destroy() is called (Node's `destroyed` type lacks it).
  const gone = () => (extract as unknown as { destroying: boolean }).destroying;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      state.bytes += chunk.length;
      if (state.bytes > limits.shardBytes) throw new errors.PayloadTooLarge(`the shard is over ${limits.shardBytes} bytes`);
      if (!extract.write(chunk)) {
        // A destroyed extractor emits no more events: waiting on it would hold the request forever.
        if (gone()) return;
        await new Promise<void>((resolve) => {
          extract.once('drain', resolve);
          extract.once('close', resolve);
        });
      }
      if (gone()) return;
    }
    if (state.bytes === 0) throw new errors.InvalidRequest('expected a tar body, got an empty one');
    extract.end();
  } catch (error) {
    extract.destroy(error as Error);
  }
}

async function drain(entry: AsyncIterable<Buffer>): Promise<void> {
  for await (const _chunk of entry) {
    // discarded: a member of a sample that has already failed, or one over its limit
  }
}

async function collect(entry: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Reads a WebDataset tar as a stream of samples: consecutive members with one key are one sample,
 * yielded when the next key's header (or the tar's end) is read. Only the members of the sample
 * being read are in memory, each within its limit (checked from its header, before its bytes).
 * Problems of one sample or member are yielded as such; problems of the tar itself (not a tar,
 * truncated, over a limit) are thrown, as the service's 4xx errors.
 */
export async function* readShard(input: Readable, limits: ShardLimits, errors: IntakeErrors): AsyncGenerator<ShardItem> {
  const extract = tar.extract();
  const state = { bytes: 0 };
  void feed(input, extract, limits, errors, state);
  const seen = new Set<string>();
  let current: ShardSample | undefined;
  let position = -1;
  const fail = (sample: ShardSample, error: Error) => {
    sample.error ??= error;
    sample.members.clear();
  };
  try {
    for await (const entry of extract) {
      position++;
      if (position >= limits.members) throw new errors.PayloadTooLarge(`the shard has over ${limits.members} members`);
      const { header } = entry;
      if (header.type === 'directory') {
        await drain(entry);
        continue;
      }
      const name = header.name.replace(/^(\.\/)+/, '');
      const unsafe = unsafeName(name);
      if (unsafe) {
        await drain(entry);
        yield { kind: 'invalid', position, error: Object.assign(new errors.InvalidRequest(`member ${position} has ${unsafe}`), { param: `member[${position}]` }) };
        continue;
      }
      const { key, ext } = splitName(name);
      if (key !== current?.key) {
        if (current) yield current;
        current = { kind: 'sample', key, members: new Map() };
        if (seen.has(key)) fail(current, Object.assign(new errors.InvalidRequest(`duplicate key ${key}: its members are not consecutive in the tar`), { param: name }));
        seen.add(key);
      }
      const sample = current;
      if (sample.error) {
        await drain(entry);
        continue;
      }
      const problem = memberProblem(ext, header.type);
      const bound = ext === 'json' || ext === 'cls' ? limits.fieldBytes : limits.fileBytes;
      const size = header.size ?? 0;
      let error: Error | undefined;
      if (problem) error = new errors.InvalidRequest(`${name} is ${problem}`);
      else if (sample.members.has(ext)) error = new errors.InvalidRequest(`${name} appears twice`);
      else if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext) && [...sample.members.keys()].some((e) => (IMAGE_EXTENSIONS as readonly string[]).includes(e))) {
        error = new errors.InvalidRequest(`${name} is a second image of sample ${key}`);
      } else if (size > bound) error = new errors.PayloadTooLarge(`${name} is ${size} bytes; the limit is ${bound}`);
      else if (size === 0) error = new errors.InvalidRequest(`${name} is empty`);
      if (error) {
        await drain(entry);
        fail(sample, Object.assign(error, { param: name }));
        continue;
      }
      sample.members.set(ext, await collect(entry));
    }
    if (current) yield current;
  } catch (error) {
    throw shardError(error, errors);
  } finally {
    extract.destroy();
  }
}

/** The tar parser's complaints are the client's problem; the service's own errors pass as they are. */
function shardError(error: unknown, errors: IntakeErrors): Error {
  const code = (error as { code?: string }).code ?? '';
  if (/^[A-Z]+_[A-Z_]+$/.test(code) && typeof (error as { statusCode?: number }).statusCode === 'number') return error as Error;
  const message = (error as Error).message ?? 'unreadable';
  return new errors.InvalidRequest(`expected a complete, well-formed tar: ${message}`);
}
