/**
 * Bad and odd inputs for the upload endpoints, each with the answer it must get: a 4xx
 * problem+json with a documented code, or a 200 whose image has a known size and format.
 *
 *   node --import tsx scripts/make-hostile-corpus.ts [folder]   # writes the files and manifest.json
 *
 * Tests import `buildHostileCorpus()` and keep everything in memory. Hostile images are built
 * by hand (chunks, headers, CRCs) so that a 20000×20000 bomb costs a few KiB, not a decode.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, crc32, createDeflate, deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { MOSAIC_MIX_IMAGES } from '../services/augment/ops/mosaic.ts';
import { MAX_MASKS } from '../services/augment/targets/request.ts';

/** The service-independent part of an error code: `UNSUPPORTED_MEDIA` is `AUG_…` or `INF_…`. */
export type CodeSuffix = 'INVALID_REQUEST' | 'INVALID_PARAM' | 'INVALID_RANGE' | 'UNKNOWN_OP' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA' | 'IMPOSSIBLE_PARAM';
export type OutputFormat = 'jpeg' | 'png' | 'webp' | 'avif';

export type Expectation =
  | { status: 400 | 413 | 415 | 422; code: CodeSuffix }
  /** A legitimate image: the answer's image has the input's displayed size (EXIF applied) and this format. */
  | { status: 200; width: number; height: number; format: OutputFormat };

/** One multipart part, in order. `filename` makes it a file part. */
export interface Part {
  name: string;
  value: Buffer | string;
  filename?: string;
  contentType?: string;
}

interface Base {
  name: string;
  expect: Expectation;
  /** Set when the image is a decompression bomb refused from its header (the test times it). */
  bomb?: boolean;
}
/** An upload sent in the endpoint's image field, with the endpoint's usual other fields. */
export interface ImageEntry extends Base {
  kind: 'image';
  bytes: Buffer;
}
/** A multipart body shaped wrongly; `parts` gets a valid image and the endpoint's usual parts. */
export interface FormEntry extends Base {
  kind: 'form';
  parts(valid: Buffer, usual: Part[]): Part[];
}
/** A body that is not a usable multipart form at all. */
export interface BodyEntry extends Base {
  kind: 'body';
  contentType?: string;
  body: Buffer;
  /** Sent to this service's endpoints only (an image content type is a way in for augment's raw bodies). */
  service?: 'augment' | 'inference';
}
/** Augmentation parameters for one operation (the augment service only). */
export interface ParamsEntry extends Base {
  kind: 'params';
  op: 'flip' | 'rotate' | 'crop' | 'scale' | 'cutout' | 'cutmix' | 'pipeline' | 'affine' | 'perspective';
  fields: Record<string, string>;
}
export type HostileEntry = ImageEntry | FormEntry | BodyEntry | ParamsEntry;

/** The limits the corpus aims at (the service under test must run with the same). */
export interface CorpusLimits {
  maxFileBytes: number;
  maxFieldBytes: number;
  maxFields: number;
  maxInputPixels: number;
}

export const DEFAULT_CORPUS_LIMITS: CorpusLimits = {
  maxFileBytes: 2 * 1024 * 1024,
  maxFieldBytes: 64 * 1024,
  maxFields: 64,
  maxInputPixels: 40_000_000,
};

/** The environment a service needs to run with `limits`. */
export function corpusEnv(limits: CorpusLimits = DEFAULT_CORPUS_LIMITS): Record<string, string> {
  return {
    MAX_FILE_BYTES: String(limits.maxFileBytes),
    MAX_FIELD_BYTES: String(limits.maxFieldBytes),
    MAX_FIELDS: String(limits.maxFields),
    MAX_INPUT_PIXELS: String(limits.maxInputPixels),
  };
}

// ---------------------------------------------------------------------------------------------
// Hand-built containers

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(width: number, height: number, bitDepth: number, colourType: number): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = bitDepth;
  data[9] = colourType;
  return chunk('IHDR', data); // compression, filter, interlace: 0
}

/** zlib of `count` copies of `row`, streamed so that the raw size never sits in memory. */
async function deflateRepeated(row: Buffer, count: number): Promise<Buffer> {
  const deflate = createDeflate({ level: constants.Z_BEST_COMPRESSION, memLevel: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (piece: Buffer) => out.push(piece));
  const done = new Promise((resolve, reject) => deflate.on('end', resolve).on('error', reject));
  const block = Buffer.concat(Array.from({ length: Math.max(1, Math.floor((1 << 20) / row.length)) }, () => row));
  const rowsPerBlock = block.length / row.length;
  for (let written = 0; written < count; written += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, count - written);
    if (!deflate.write(block.subarray(0, rows * row.length))) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await done;
  return Buffer.concat(out);
}

/**
 * A real single-colour PNG of width×height at 1 bit per pixel: every row is the filter byte
 * and zeros, so it compresses about 1000:1 and decodes to width×height pixels.
 */
export async function pngBomb(width: number, height: number): Promise<Buffer> {
  const row = Buffer.alloc(1 + Math.ceil(width / 8));
  const idat = await deflateRepeated(row, height);
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 1, 0), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** A PNG whose IHDR claims width×height, with a few rows of data only (valid CRCs throughout). */
function pngClaiming(width: number, height: number): Buffer {
  const idat = deflateSync(Buffer.alloc(64));
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 8, 2), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** Insert `extra` chunks after IHDR of a valid PNG. */
function withChunks(png: Buffer, extra: Buffer[]): Buffer {
  const afterIhdr = 8 + 8 + 13 + 4;
  return Buffer.concat([png.subarray(0, afterIhdr), ...extra, png.subarray(afterIhdr)]);
}

/** A JPEG whose SOF header is patched to claim width×height. */
function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i < out.length - 9; ) {
    if (out[i] !== 0xff) throw new Error('not a JPEG marker');
    const marker = out[i + 1]!;
    const length = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + length;
  }
  throw new Error('no SOF marker');
}

/** A real lossless WebP whose VP8L header is patched to claim width×height (16383 at most each). */
function webpClaiming(webp: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(webp);
  const at = out.indexOf(Buffer.from('VP8L', 'latin1')) + 8;
  if (at < 8 || out[at] !== 0x2f) throw new Error('not a lossless WebP');
  const rest = out.readUInt32LE(at + 1) & 0xf0000000; // alpha hint and version bits
  out.writeUInt32LE((rest | (width - 1) | ((height - 1) << 14)) >>> 0, at + 1);
  return out;
}

function u32le(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value, 0);
  return b;
}

/** A GIF whose logical screen claims width×height around one frame (1×1 unless told). */
function gifClaiming(width: number, height: number, frame = { width: 1, height: 1 }): Buffer {
  const header = Buffer.from('GIF89a', 'latin1');
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  screen[4] = 0x80; // global colour table of 2 entries
  const palette = Buffer.from([0, 0, 0, 255, 255, 255]);
  // One image descriptor of frameWidth×frameHeight, LZW data for a single pixel.
  const descriptor = Buffer.alloc(10);
  descriptor[0] = 0x2c;
  descriptor.writeUInt16LE(frame.width, 5);
  descriptor.writeUInt16LE(frame.height, 7);
  const image = Buffer.concat([descriptor, Buffer.from([0x02, 0x02, 0x44, 0x01, 0x00, 0x3b])]);
  return Buffer.concat([header, screen, palette, image]);
}

/** A baseline TIFF (uncompressed grey) whose tags claim width×height, with one strip of data. */
function tiffClaiming(width: number, height: number): Buffer {
  const entries: Array<[tag: number, type: number, value: number]> = [
    [256, 4, width], // ImageWidth
    [257, 4, height], // ImageLength
    [258, 3, 8], // BitsPerSample
    [259, 3, 1], // Compression: none
    [262, 3, 1], // Photometric: black is zero
    [273, 4, 0], // StripOffsets (patched below)
    [277, 3, 1], // SamplesPerPixel
    [278, 4, 1], // RowsPerStrip
    [279, 4, 16], // StripByteCounts
  ];
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  const dataOffset = ifdOffset + ifdSize;
  const out = Buffer.alloc(dataOffset + 16);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifdOffset, 4);
  out.writeUInt16LE(entries.length, ifdOffset);
  entries.forEach(([tag, type, value], i) => {
    const at = ifdOffset + 2 + i * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(1, at + 4);
    const v = tag === 273 ? dataOffset : value;
    if (type === 3) out.writeUInt16LE(v, at + 8);
    else out.writeUInt32LE(v, at + 8);
  });
  return out;
}

/** A JPEG with an EXIF orientation tag, via sharp's own metadata writer. */
function withOrientation(image: Sharp, orientation: number): Promise<Buffer> {
  return image.jpeg().withMetadata({ orientation }).toBuffer();
}

// ---------------------------------------------------------------------------------------------

/** A small image with gradients and an alpha ramp when asked, so every decode path has work. */
function gradient(width: number, height: number, channels: 1 | 2 | 3 | 4): Sharp {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const values = [(x * 255) / Math.max(1, width - 1), (y * 255) / Math.max(1, height - 1), (x * 7 + y * 13) % 256, 64 + ((x + y) % 192)];
      if (channels <= 2) {
        data[i] = values[0]!;
        if (channels === 2) data[i + 1] = values[3]!;
      } else for (let c = 0; c < channels; c++) data[i + c] = values[c]!;
    }
  }
  const image = sharp(data, { raw: { width, height, channels } });
  return channels <= 2 ? image.toColourspace('b-w') : image;
}

/** A valid image of the endpoints' usual kind, for the entries that break something else. */
export function validImage(): Promise<Buffer> {
  return gradient(48, 32, 3).png().toBuffer();
}

const ok = (width: number, height: number, format: OutputFormat): Expectation => ({ status: 200, width, height, format });
const refused = (status: 400 | 413 | 415 | 422, code: CodeSuffix): Expectation => ({ status, code });

/**
 * Every entry of the corpus. Sizes in the expectations are those of the answer of a
 * size-keeping operation (flip, rotate, scale, cutout, cutmix, a pipeline of those).
 */
export async function buildHostileCorpus(limits: CorpusLimits = DEFAULT_CORPUS_LIMITS): Promise<HostileEntry[]> {
  const png = await gradient(48, 32, 3).png().toBuffer();
  const jpeg = await gradient(48, 32, 3).jpeg().toBuffer();
  const webp = await gradient(48, 32, 3).webp().toBuffer();
  const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  const svg = (body: string) => Buffer.from(body);

  const images: ImageEntry[] = [];
  const image = (name: string, bytes: Buffer, expect: Expectation, bomb = false) => images.push({ kind: 'image', name, bytes, expect, ...(bomb ? { bomb } : {}) });

  // Not images at all.
  image('empty file', Buffer.alloc(0), refused(400, 'INVALID_REQUEST'));
  image('random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)), refused(415, 'UNSUPPORTED_MEDIA'));
  image('plain text', Buffer.from('hello, this is not an image\n'.repeat(20)), refused(415, 'UNSUPPORTED_MEDIA'));
  image('HTML page', Buffer.from('<!doctype html><html><body><img src=x onerror=alert(1)></body></html>'), refused(415, 'UNSUPPORTED_MEDIA'));
  image('PDF header', Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'), refused(415, 'UNSUPPORTED_MEDIA'));
  image('BMP', bmp(4, 4), refused(415, 'UNSUPPORTED_MEDIA'));
  image('PNG signature only', PNG_SIGNATURE, refused(415, 'UNSUPPORTED_MEDIA'));
  image('JPEG SOI only', Buffer.from([0xff, 0xd8, 0xff]), refused(415, 'UNSUPPORTED_MEDIA'));

  // Broken images.
  image('truncated PNG (half)', png.subarray(0, png.length >> 1), refused(415, 'UNSUPPORTED_MEDIA'));
  image('truncated JPEG (half)', jpeg.subarray(0, jpeg.length >> 1), refused(415, 'UNSUPPORTED_MEDIA'));
  image('truncated WebP (half)', webp.subarray(0, webp.length >> 1), refused(415, 'UNSUPPORTED_MEDIA'));
  image('PNG header without pixel data', Buffer.concat([PNG_SIGNATURE, ihdr(48, 32, 8, 2), chunk('IEND', Buffer.alloc(0))]), refused(415, 'UNSUPPORTED_MEDIA'));
  image('PNG with a corrupt IDAT CRC', corruptLastCrcBefore(png, 'IEND'), refused(415, 'UNSUPPORTED_MEDIA'));
  image('PNG with garbage after IEND', Buffer.concat([png, Buffer.alloc(1000, 0xab)]), ok(48, 32, 'png'));
  image('JPEG with garbage after EOI', Buffer.concat([jpeg, Buffer.alloc(1000, 0xab)]), ok(48, 32, 'jpeg'));

  // Decompression bombs and lying headers: refused from the header, in well under 100 ms.
  image('PNG IHDR claiming 100000×100000', pngClaiming(100_000, 100_000), refused(413, 'PAYLOAD_TOO_LARGE'), true);
  image('PNG bomb 20000×20000 single colour (real zlib data)', await pngBomb(20_000, 20_000), refused(413, 'PAYLOAD_TOO_LARGE'), true);
  image("PNG bomb 16383×16383 (just under sharp's 268 MP)", await pngBomb(16_383, 16_383), refused(413, 'PAYLOAD_TOO_LARGE'), true);
  image('PNG one pixel over the service limit', pngClaiming(limits.maxInputPixels + 1, 1), refused(413, 'PAYLOAD_TOO_LARGE'), true);
  image('JPEG SOF claiming 65000×65000', jpegClaiming(tiny, 65_000, 65_000), refused(413, 'PAYLOAD_TOO_LARGE'), true);
  image('WebP header claiming 16383×16383', webpClaiming(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).webp({ lossless: true }).toBuffer(), 16_383, 16_383), refused(413, 'PAYLOAD_TOO_LARGE'), true);
  image('GIF frame claiming 65535×65535', gifClaiming(65_535, 65_535, { width: 65_535, height: 65_535 }), refused(413, 'PAYLOAD_TOO_LARGE'), true);
  // The decoder sizes a GIF by its frames, not by the logical screen: a 1×1 image, not a bomb.
  image('GIF screen claiming 65535×65535 around a 1×1 frame', gifClaiming(65_535, 65_535), ok(1, 1, 'png'));
  image('TIFF tags claiming 100000×100000', tiffClaiming(100_000, 100_000), refused(413, 'PAYLOAD_TOO_LARGE'), true);
  // Text chunks whose zlib data expands to 64 MiB: must not be inflated just to read the header.
  image('PNG with a 64 MiB zTXt bomb', withChunks(png, [chunk('zTXt', Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), await deflateRepeated(Buffer.alloc(1 << 16), 1024)]))]), ok(48, 32, 'png'));
  // libpng stops inflating ancillary chunks at its own limit and skips the chunk.
  image('PNG with a 64 MiB iCCP bomb', withChunks(png, [chunk('iCCP', Buffer.concat([Buffer.from('icc\0\0', 'latin1'), await deflateRepeated(Buffer.alloc(1 << 16), 1024)]))]), ok(48, 32, 'png'));

  // SVG, which sharp could render (librsvg) but the services refuse before it does.
  image('SVG with an external entity', svg('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&x;</text></svg>'), refused(415, 'UNSUPPORTED_MEDIA'));
  image('SVG with a file: image link', svg('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><image xlink:href="file:///etc/passwd" width="10" height="10"/></svg>'), refused(415, 'UNSUPPORTED_MEDIA'));
  image('SVG billion laughs', svg(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY ${String.fromCharCode(98 + i)} "${`&${String.fromCharCode(97 + i)};`.repeat(10)}">`).join('')}]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&j;</text></svg>`), refused(415, 'UNSUPPORTED_MEDIA'));
  image('SVG 100000×100000', svg('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%"/></svg>'), refused(415, 'UNSUPPORTED_MEDIA'));

  // Legitimate odd images: a 200 with the right size and format.
  image('animated GIF (3 frames 20×10)', await animatedGif(), ok(20, 10, 'png'));
  image('multi-page TIFF (3 pages 24×16)', await multiPageTiff(), ok(24, 16, 'png'));
  image('16-bit RGB PNG', await gradient(40, 30, 3).toColourspace('rgb16').png().toBuffer(), ok(40, 30, 'png'));
  image('16-bit grey PNG', await gradient(40, 30, 1).toColourspace('grey16').png().toBuffer(), ok(40, 30, 'png'));
  image('palette PNG', await gradient(40, 30, 3).png({ palette: true, colours: 16 }).toBuffer(), ok(40, 30, 'png'));
  image('palette PNG with transparency', await gradient(40, 30, 4).png({ palette: true, colours: 16 }).toBuffer(), ok(40, 30, 'png'));
  image('interlaced (Adam7) PNG', await gradient(40, 30, 3).png({ progressive: true }).toBuffer(), ok(40, 30, 'png'));
  image('RGBA PNG', await gradient(40, 30, 4).png().toBuffer(), ok(40, 30, 'png'));
  image('grey + alpha PNG', await gradient(40, 30, 2).png().toBuffer(), ok(40, 30, 'png'));
  image('grey JPEG', await gradient(40, 30, 1).jpeg().toBuffer(), ok(40, 30, 'jpeg'));
  image('CMYK JPEG', await gradient(40, 30, 3).toColourspace('cmyk').jpeg().toBuffer(), ok(40, 30, 'jpeg'));
  image('progressive JPEG', await gradient(40, 30, 3).jpeg({ progressive: true }).toBuffer(), ok(40, 30, 'jpeg'));
  image('RGBA WebP', await gradient(40, 30, 4).webp().toBuffer(), ok(40, 30, 'webp'));
  image('lossless WebP', await gradient(40, 30, 3).webp({ lossless: true }).toBuffer(), ok(40, 30, 'webp'));
  image('AVIF', await gradient(24, 16, 3).avif({ effort: 0 }).toBuffer(), ok(24, 16, 'avif'));
  image('1×1 PNG', await gradient(1, 1, 3).png().toBuffer(), ok(1, 1, 'png'));
  image('1×1 JPEG', await gradient(1, 1, 3).jpeg().toBuffer(), ok(1, 1, 'jpeg'));
  image('1×1 GIF', await gradient(1, 1, 3).gif().toBuffer(), ok(1, 1, 'png'));
  image('1×1 WebP', await gradient(1, 1, 4).webp().toBuffer(), ok(1, 1, 'webp'));
  image('1×600 PNG (a line)', await gradient(1, 600, 3).png().toBuffer(), ok(1, 600, 'png'));
  image('EXIF orientation 6 JPEG (stored 40×20, shown 20×40)', await withOrientation(gradient(40, 20, 3), 6), ok(20, 40, 'jpeg'));
  image('EXIF orientation 8 JPEG', await withOrientation(gradient(40, 20, 3), 8), ok(20, 40, 'jpeg'));
  image('EXIF orientation 3 JPEG', await withOrientation(gradient(40, 20, 3), 3), ok(40, 20, 'jpeg'));

  const usualPlusImage = (valid: Buffer, usual: Part[]) => [{ name: 'image', value: valid, filename: 'image.png' }, ...usual];
  const maskBomb = await pngBomb(20_000, 20_000);
  const maskGif = await gradient(48, 32, 1).gif().toBuffer();
  const mask16 = await gradient(48, 32, 1).toColourspace('grey16').png().toBuffer();
  const maskGreyAlpha = await gradient(48, 32, 2).png().toBuffer();
  const maskSmall = await gradient(10, 10, 1).png().toBuffer();
  const forms: FormEntry[] = [
    { kind: 'form', name: 'wrong file field name', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [{ name: 'picture', value: v, filename: 'p.png' }, ...u] },
    { kind: 'form', name: 'two files where one is expected', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [{ name: 'image', value: v, filename: 'a.png' }, { name: 'image', value: v, filename: 'b.png' }, ...u.filter((p) => !p.filename)] },
    { kind: 'form', name: 'missing file', expect: refused(400, 'INVALID_REQUEST'), parts: (_v, u) => u },
    { kind: 'form', name: 'image sent as a text field', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [{ name: 'image', value: v.toString('latin1') }, ...u] },
    // An augment request takes image, up to three mix_image (mosaic) and MAX_MASKS each of mask and mix_mask.
    { kind: 'form', name: 'one file more than a request takes', expect: refused(413, 'PAYLOAD_TOO_LARGE'), parts: (v, u) => [...usualPlusImage(v, u), ...Array.from({ length: 1 + MOSAIC_MIX_IMAGES + 2 * MAX_MASKS }, (_, i) => ({ name: `x${i}`, value: v, filename: `x${i}.png` }))] },
    // Hostile masks (targets): refused from the header or the channel count, never decoded whole.
    { kind: 'form', name: 'mask bomb 20000×20000 (real zlib data)', bomb: true, expect: refused(413, 'PAYLOAD_TOO_LARGE'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: maskBomb, filename: 'mask.png' }] },
    { kind: 'form', name: 'mask PNG claiming 100000×100000', bomb: true, expect: refused(413, 'PAYLOAD_TOO_LARGE'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: pngClaiming(100_000, 100_000), filename: 'mask.png' }] },
    { kind: 'form', name: 'mask in RGB', expect: refused(400, 'INVALID_PARAM'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: v, filename: 'mask.png' }] },
    { kind: 'form', name: 'mask as a palette GIF', expect: refused(400, 'INVALID_PARAM'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: maskGif, filename: 'mask.gif' }] },
    { kind: 'form', name: 'mask as 16-bit grey PNG', expect: refused(400, 'INVALID_PARAM'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: mask16, filename: 'mask.png' }] },
    { kind: 'form', name: 'mask as grey + alpha PNG', expect: refused(400, 'INVALID_PARAM'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: maskGreyAlpha, filename: 'mask.png' }] },
    { kind: 'form', name: 'mask as SVG', expect: refused(415, 'UNSUPPORTED_MEDIA'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: svg('<svg xmlns="http://www.w3.org/2000/svg" width="48" height="32"/>'), filename: 'mask.svg' }] },
    { kind: 'form', name: 'mask of random bytes', expect: refused(415, 'UNSUPPORTED_MEDIA'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 40503) >>> 8)), filename: 'mask.png' }] },
    { kind: 'form', name: 'mask of another size', expect: refused(400, 'INVALID_PARAM'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: maskSmall, filename: 'mask.png' }] },
    { kind: 'form', name: 'empty mask file', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'mask', value: Buffer.alloc(0), filename: 'mask.png' }] },
    { kind: 'form', name: 'one mask more than allowed', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [...usualPlusImage(v, u), ...Array.from({ length: MAX_MASKS + 1 }, () => ({ name: 'mask', value: maskSmall, filename: 'mask.png' }))] },
    { kind: 'form', name: 'file one byte over the limit', expect: refused(413, 'PAYLOAD_TOO_LARGE'), parts: (_v, u) => [{ name: 'image', value: Buffer.alloc(limits.maxFileBytes + 1, 7), filename: 'big.png' }, ...u] },
    { kind: 'form', name: 'text field one byte over the limit', expect: refused(413, 'PAYLOAD_TOO_LARGE'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'seed', value: '1'.repeat(limits.maxFieldBytes + 1) }] },
    { kind: 'form', name: 'one field too many', expect: refused(413, 'PAYLOAD_TOO_LARGE'), parts: (v, u) => [...usualPlusImage(v, u), ...Array.from({ length: limits.maxFields + 1 }, (_, i) => ({ name: `f${i}`, value: '1' }))] },
    { kind: 'form', name: 'unknown text field', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'colour', value: 'red' }] },
    { kind: 'form', name: 'field named __proto__', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [...usualPlusImage(v, u), { name: '__proto__', value: '{"polluted":true}' }] },
    { kind: 'form', name: 'field named constructor', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'constructor', value: 'x' }] },
    { kind: 'form', name: 'file part with a text content type', expect: refused(415, 'UNSUPPORTED_MEDIA'), parts: (_v, u) => [{ name: 'image', value: 'GIF89a but really text', filename: 'a.gif', contentType: 'image/gif' }, ...u] },
    { kind: 'form', name: 'image/png content type on text', expect: refused(415, 'UNSUPPORTED_MEDIA'), parts: (_v, u) => [{ name: 'image', value: 'just some text', filename: 'a.png', contentType: 'image/png' }, ...u] },
    { kind: 'form', name: 'the same seed field twice', expect: refused(400, 'INVALID_REQUEST'), parts: (v, u) => [...usualPlusImage(v, u), { name: 'seed', value: '1' }, { name: 'seed', value: '2' }] },
  ];

  const multipartType = 'multipart/form-data; boundary=----hostile';
  const bodies: BodyEntry[] = [
    { kind: 'body', name: 'empty body, no content type', body: Buffer.alloc(0), expect: refused(415, 'UNSUPPORTED_MEDIA') },
    { kind: 'body', name: 'empty multipart body', contentType: multipartType, body: Buffer.alloc(0), expect: refused(400, 'INVALID_REQUEST') },
    { kind: 'body', name: 'multipart without a boundary', contentType: 'multipart/form-data', body: Buffer.from('abc'), expect: refused(400, 'INVALID_REQUEST') },
    { kind: 'body', name: 'multipart body of random bytes', contentType: multipartType, body: Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 2246822519) >>> 24)), expect: refused(400, 'INVALID_REQUEST') },
    { kind: 'body', name: 'multipart cut off inside the file', contentType: multipartType, body: Buffer.concat([Buffer.from('------hostile\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'), png.subarray(0, 100)]), expect: refused(400, 'INVALID_REQUEST') },
    { kind: 'body', name: 'multipart part without Content-Disposition', contentType: multipartType, body: Buffer.from('------hostile\r\nContent-Type: image/png\r\n\r\nxxxx\r\n------hostile--\r\n'), expect: refused(400, 'INVALID_REQUEST') },
    // augment takes an image as the raw body (test/augment/raw-body.test.ts); inference does not.
    { kind: 'body', name: 'raw PNG with an image content type', contentType: 'image/png', body: png, expect: refused(415, 'UNSUPPORTED_MEDIA'), service: 'inference' },
    { kind: 'body', name: 'text with an image content type', contentType: 'image/jpeg', body: Buffer.from('not a jpeg'), expect: refused(415, 'UNSUPPORTED_MEDIA'), service: 'inference' },
    { kind: 'body', name: 'PNG with an image content type no service takes', contentType: 'image/bmp', body: png, expect: refused(415, 'UNSUPPORTED_MEDIA') },
    { kind: 'body', name: 'JSON body to a multipart endpoint', contentType: 'application/json', body: Buffer.from('{"image":"aGVsbG8="}'), expect: refused(415, 'UNSUPPORTED_MEDIA') },
    { kind: 'body', name: 'url-encoded form', contentType: 'application/x-www-form-urlencoded', body: Buffer.from('image=abc'), expect: refused(415, 'UNSUPPORTED_MEDIA') },
  ];

  const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const params: ParamsEntry[] = [];
  const param = (op: ParamsEntry['op'], name: string, fields: Record<string, string>, expect: Expectation) => params.push({ kind: 'params', op, name, fields, expect });
  const badParam = refused(400, 'INVALID_PARAM');
  for (const [value, label] of [['NaN', 'NaN'], ['Infinity', 'Infinity'], ['-Infinity', '-Infinity'], ['1e309', '1e309'], ['ten', 'text'], ['', 'empty'], ['1,2', 'a list']] as const) {
    param('rotate', `angle ${label}`, { angle: value }, badParam);
  }
  param('rotate', 'angle out of range', { angle: '361' }, badParam);
  param('rotate', 'angle_range min > max', { angle_range: '10,-10' }, refused(400, 'INVALID_RANGE'));
  param('rotate', 'angle_range of garbage', { angle_range: 'a,b' }, badParam);
  param('rotate', 'expand not a boolean', { expand: 'yes' }, badParam);
  param('rotate', 'fill not a colour', { fill: 'url(file:///etc/passwd)' }, badParam);
  param('scale', 'factor negative', { factor: '-1' }, badParam);
  param('scale', 'factor zero', { factor: '0' }, badParam);
  param('scale', 'factor_range NaN', { factor_range: 'NaN,1' }, badParam);
  param('scale', 'factor 8 without keep_size', { factor: '8', keep_size: 'false' }, ok(384, 256, 'png'));
  param('crop', 'output over the pixel limit', { output_width: '8192', output_height: '8192' }, badParam);
  param('crop', 'negative width', { width: '-5', height: '5' }, badParam);
  param('crop', 'width without height', { width: '5' }, badParam);
  param('crop', 'fractional width', { width: '5.5', height: '5' }, badParam);
  param('crop', 'crop larger than the image', { width: '4096', height: '4096' }, refused(422, 'IMPOSSIBLE_PARAM'));
  param('crop', 'huge output size', { output_width: '99999', output_height: '99999' }, badParam);
  param('crop', 'scale_range zero', { scale_range: '0,0' }, badParam);
  param('cutout', 'a million holes', { holes: '1000000' }, badParam);
  param('cutout', 'size negative', { size: '-4' }, badParam);
  param('cutout', 'boxes deeply nested (20000 levels)', { boxes: deep(20_000) }, badParam);
  param('cutout', 'boxes outside the image', { boxes: '[[0,0,4096,4096]]' }, refused(422, 'IMPOSSIBLE_PARAM'));
  param('cutmix', 'alpha zero', { alpha: '0' }, badParam);
  param('cutmix', 'mixed_label of 5000 numbers', { mixed_label: JSON.stringify(Array.from({ length: 5000 }, () => 0.5)) }, ok(48, 32, 'png'));
  param('flip', 'direction unknown', { direction: 'sideways' }, badParam);
  param('flip', 'seed negative', { seed: '-1' }, badParam);
  param('flip', 'seed 2^53', { seed: String(2 ** 53) }, badParam);
  param('flip', 'quality 0', { quality: '0', format: 'jpeg' }, badParam);
  param('flip', 'format gif', { format: 'gif' }, badParam);
  param('flip', 'hex seed (Number() reads it)', { seed: '0x10' }, ok(48, 32, 'png'));
  param('pipeline', 'unknown op', { ops: '[{"op":"blur"}]' }, refused(400, 'UNKNOWN_OP'));
  param('pipeline', 'op name __proto__', { ops: '[{"op":"__proto__"}]' }, refused(400, 'UNKNOWN_OP'));
  param('pipeline', 'op name constructor', { ops: '[{"op":"constructor"}]' }, refused(400, 'UNKNOWN_OP'));
  param('pipeline', 'ops empty list', { ops: '[]' }, badParam);
  param('pipeline', 'ops not a list', { ops: '{"op":"flip"}' }, badParam);
  param('pipeline', '17 steps', { ops: JSON.stringify(Array.from({ length: 17 }, () => ({ op: 'flip' }))) }, badParam);
  param('pipeline', 'ops deeply nested (20000 levels)', { ops: deep(20_000) }, badParam);
  param('pipeline', 'step field deeply nested', { ops: `[{"op":"flip","direction":${deep(20_000)}}]` }, badParam);
  param('pipeline', 'step __proto__ field', { ops: '[{"op":"flip","__proto__":{"angle":3}}]' }, refused(400, 'INVALID_REQUEST'));
  param('pipeline', 'huge JSON (60 KiB of steps)', { ops: `[${Array.from({ length: 3000 }, () => '{"op":"flip"}').join(',')}]`.slice(0, 60_000) }, badParam);
  param('pipeline', 'ops at the field limit', { ops: `[{"op":"flip"}${' '.repeat(limits.maxFieldBytes - 20)}]` }, ok(48, 32, 'png'));
  param('pipeline', 'p out of range', { ops: '[{"op":"flip","p":2}]' }, badParam);
  param('pipeline', 'count 0', { ops: '[{"op":"flip"}]', count: '0' }, badParam);
  param('pipeline', 'count fractional', { ops: '[{"op":"flip"}]', count: '1.5' }, badParam);
  param('pipeline', 'cutmix step without mix_image', { ops: '[{"op":"cutmix"}]' }, refused(400, 'INVALID_REQUEST'));

  // Hostile targets.
  const boxes = (count: number) => `[${Array.from({ length: count }, () => '[0,0,1,1]').join(',')}]`;
  param('flip', 'a million boxes (over the field limit)', { bboxes: boxes(1_000_000) }, refused(413, 'PAYLOAD_TOO_LARGE'));
  param('rotate', 'one box more than MAX_TARGETS (within the field limit)', { bboxes: boxes(2001) }, refused(413, 'PAYLOAD_TOO_LARGE'));
  param('crop', 'boxes plus keypoints over MAX_TARGETS', { bboxes: boxes(1500), keypoints: `[${Array.from({ length: 501 }, () => '[1,1]').join(',')}]` }, refused(413, 'PAYLOAD_TOO_LARGE'));
  param('flip', 'box with NaN', { bboxes: '[[0,NaN,4,4]]' }, badParam);
  param('rotate', 'box with 1e309', { bboxes: '[[0,0,1e309,4]]' }, badParam);
  param('scale', 'box of text', { bboxes: '[["a","b","c","d"]]' }, badParam);
  param('flip', 'degenerate box', { bboxes: '[[4,4,4,8]]' }, badParam);
  param('crop', 'degenerate yolo box', { bboxes: '[[0.5,0.5,0,0.2]]', bbox_format: 'yolo' }, badParam);
  param('cutout', 'bboxes deeply nested (20000 levels)', { bboxes: deep(20_000) }, badParam);
  param('flip', 'bbox_labels deeply nested (20000 levels)', { bboxes: '[[0,0,4,4]]', bbox_labels: deep(20_000) }, badParam);
  param('rotate', 'keypoints deeply nested (20000 levels)', { keypoints: deep(20_000) }, badParam);
  param('pipeline', 'bboxes an object', { ops: '[{"op":"flip"}]', bboxes: '{"__proto__":{"x":1}}' }, badParam);
  param('flip', 'labels of the wrong length', { bboxes: '[[0,0,4,4]]', bbox_labels: '[1,2]' }, badParam);
  param('flip', 'keypoint of three numbers', { keypoints: '[[1,2,3]]' }, badParam);
  param('scale', 'min_visibility 2', { bboxes: '[[0,0,4,4]]', min_visibility: '2' }, badParam);
  param('cutout', 'mask_fill 256', { bboxes: '[[0,0,4,4]]', mask_fill: '256' }, badParam);
  param('flip', 'mix_bboxes outside cutmix', { mix_bboxes: '[[0,0,4,4]]' }, refused(400, 'INVALID_REQUEST'));
  param('pipeline', 'mix_keypoints without a cutmix step', { ops: '[{"op":"flip"}]', mix_keypoints: '[[1,1]]' }, refused(400, 'INVALID_REQUEST'));

  // The warped operations (affine, perspective).
  param('affine', 'interpolation unknown', { interpolation: 'lanczos' }, badParam);
  param('affine', 'shear at 90 degrees', { shear: '90,0' }, badParam);
  param('affine', 'shear_range of three numbers', { shear_range: '1,2,3' }, badParam);
  param('affine', 'shear_range min > max', { shear_range: '10,-10' }, refused(400, 'INVALID_RANGE'));
  param('affine', 'scale zero', { scale: '0' }, badParam);
  param('affine', 'translate of 1e309', { translate: '1e309,0' }, badParam);
  param('affine', 'translate_range beyond 1', { translate_range: '2,0' }, badParam);
  param('affine', 'center of text', { center: 'x,y' }, badParam);
  param('affine', 'scale 1e-300 (everything maps to the centre)', { scale_range: '1e-300,1e-300' }, ok(48, 32, 'png'));
  param('perspective', 'distortion_scale 1.5', { distortion_scale: '1.5' }, badParam);
  param('perspective', 'startpoints without endpoints', { startpoints: '[[0,0],[9,0],[9,9],[0,9]]' }, badParam);
  param('perspective', 'endpoints on a line', { startpoints: '[[0,0],[9,0],[9,9],[0,9]]', endpoints: '[[0,0],[1,1],[2,2],[3,3]]' }, badParam);
  param('perspective', 'endpoints deeply nested (20000 levels)', { startpoints: '[[0,0],[9,0],[9,9],[0,9]]', endpoints: deep(20_000) }, badParam);
  param('perspective', 'endpoints far away (1e4 px)', { startpoints: '[[0,0],[47,0],[47,31],[0,31]]', endpoints: '[[-9999,-9999],[9999,-9999],[9999,9999],[-9999,9999]]' }, ok(48, 32, 'png'));

  return [...images, ...forms, ...bodies, ...params];
}

function bmp(width: number, height: number): Buffer {
  const rowBytes = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + rowBytes * height, 0x80);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  return out;
}

/** Flip one bit in the CRC of the chunk just before `type`. */
function corruptLastCrcBefore(png: Buffer, type: string): Buffer {
  const out = Buffer.from(png);
  const at = out.lastIndexOf(Buffer.from(type, 'latin1'));
  out[at - 4 - 1]! ^= 0x01;
  return out;
}

async function animatedGif(): Promise<Buffer> {
  const frames = Buffer.concat([0, 1, 2].map((f) => Buffer.alloc(20 * 10 * 3, 60 + f * 60)));
  return sharp(frames, { raw: { width: 20, height: 30, channels: 3, pageHeight: 10 } }).gif({ loop: 0, delay: [100, 100, 100] }).toBuffer();
}

async function multiPageTiff(): Promise<Buffer> {
  const pages = Buffer.concat([0, 1, 2].map((f) => Buffer.alloc(24 * 16 * 3, 40 + f * 70)));
  return sharp(pages, { raw: { width: 24, height: 48, channels: 3, pageHeight: 16 } }).tiff().toBuffer();
}

/** Write the corpus to a folder: one file per image or body, and manifest.json for everything. */
async function writeCorpus(folder: string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  const entries = await buildHostileCorpus();
  const valid = await validImage();
  const manifest = entries.map((entry, i) => {
    const file = `${String(i).padStart(3, '0')}-${entry.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()}`;
    const base = { name: entry.name, kind: entry.kind, expect: entry.expect, ...(entry.bomb ? { bomb: true } : {}) };
    switch (entry.kind) {
      case 'image':
        writeFileSync(join(folder, `${file}.bin`), entry.bytes);
        return { ...base, file: `${file}.bin` };
      case 'body':
        writeFileSync(join(folder, `${file}.body`), entry.body);
        return { ...base, file: `${file}.body`, contentType: entry.contentType };
      case 'form':
        return { ...base, parts: entry.parts(valid, []).map((p) => ({ name: p.name, filename: p.filename, bytes: p.value.length })) };
      case 'params':
        return { ...base, op: entry.op, fields: Object.fromEntries(Object.entries(entry.fields).map(([k, v]) => [k, v.length > 200 ? `${v.slice(0, 200)}… (${v.length} chars)` : v])) };
    }
  });
  writeFileSync(join(folder, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`${entries.length} entries written to ${folder}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeCorpus(process.argv[2] ?? 'test-artifacts/hostile-corpus');
}
