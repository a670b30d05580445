/** What a JPEG's markers say before its first scan, for choosing a decoder. */
export interface JpegHeader {
  width: number;
  height: number;
  /** 3-component 8-bit YCbCr (baseline, extended or progressive Huffman), no EXIF, no ICC profile, ending in EOI. */
  plain: boolean;
}

const SOF_HUFFMAN = new Set([0xc0, 0xc1, 0xc2]);
/** Every start-of-frame marker (C4, C8 and CC are tables and a reserved code, not frames). */
const SOF_ANY = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function startsWith(bytes: Buffer, at: number, text: string): boolean {
  return bytes.toString('latin1', at, at + text.length) === text;
}

/**
 * Reads a JPEG's markers up to its first scan (a few dozen bytes, no decoding): its size, and
 * whether it is the plain kind that any baseline decoder turns into the same sRGB pixels as
 * libjpeg: 8-bit, three components numbered 1-2-3 (or 0-1-2) in YCbCr (no Adobe marker saying
 * otherwise), Huffman-coded, no EXIF (which may rotate it), no ICC profile (which sharp would
 * apply), and the file ending in EOI (a truncated file is left to libjpeg, which reports it).
 * Undefined for anything that is not a JPEG with a frame header.
 * @example jpegHeader(bytes) // { width: 256, height: 256, plain: true }
 */
export function jpegHeader(bytes: Buffer): JpegHeader | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let exifOrIcc = false;
  let adobeTransform: number | undefined;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // EOI or a scan before any frame
    const length = bytes.readUInt16BE(at + 2);
    const body = at + 4;
    if (length < 2 || at + 2 + length > bytes.length) return undefined;
    if (marker === 0xe1 && startsWith(bytes, body, 'Exif\0')) exifOrIcc = true;
    if (marker === 0xe2 && startsWith(bytes, body, 'ICC_PROFILE\0')) exifOrIcc = true;
    if (marker === 0xee && length >= 14 && startsWith(bytes, body, 'Adobe')) adobeTransform = bytes[body + 11];
    if (SOF_ANY.has(marker)) {
      if (length < 8) return undefined;
      const precision = bytes[body]!;
      const height = bytes.readUInt16BE(body + 1);
      const width = bytes.readUInt16BE(body + 3);
      const components = bytes[body + 5]!;
      if (width === 0 || height === 0 || length < 8 + 3 * components) return undefined;
      const ids = Array.from({ length: components }, (_, i) => bytes[body + 6 + 3 * i]!);
      const numbered = ids.join() === '1,2,3' || ids.join() === '0,1,2';
      const ycc = adobeTransform === undefined || adobeTransform === 1;
      const ended = bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9;
      const plain = SOF_HUFFMAN.has(marker) && precision === 8 && components === 3 && numbered && ycc && !exifOrIcc && ended;
      return { width, height, plain };
    }
    at += 2 + length;
  }
  return undefined;
}
