import { InvalidParamError } from './errors.ts';

/** A parsed colour; `hex` is the normalised spelling that resolved parameters carry. */
export interface Colour {
  r: number;
  g: number;
  b: number;
  /** 0–255; 255 is opaque. */
  alpha: number;
  /** `#rrggbb`, or `#rrggbbaa` when the input gave an alpha. */
  hex: string;
}

/** The fill every operation uses when the request gives none. */
export const DEFAULT_FILL = '#000000';

// CSS's values, so a name means here what it means in a browser.
const NAMED: Readonly<Record<string, string>> = {
  black: '#000000',
  white: '#ffffff',
  gray: '#808080',
  grey: '#808080',
  red: '#ff0000',
  green: '#008000',
  blue: '#0000ff',
};

const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/;

/**
 * Parses `#rgb`, `#rrggbb`, `#rrggbbaa` or one of the names black, white, gray/grey, red, green,
 * blue (case-insensitive). Throws InvalidParamError otherwise.
 *
 * @example
 * parseColour('#F80', 'fill'); // { r: 255, g: 136, b: 0, alpha: 255, hex: '#ff8800' }
 */
export function parseColour(value: unknown, name: string): Colour {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  const spelled = text === undefined ? undefined : (NAMED[text] ?? text);
  if (spelled === undefined || !HEX.test(spelled)) {
    throw new InvalidParamError(
      `expected a colour (#rgb, #rrggbb, #rrggbbaa or black, white, gray, grey, red, green, blue) for ${name}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  const digits = spelled.length === 4 ? [...spelled.slice(1)].map((h) => h + h).join('') : spelled.slice(1);
  const byte = (i: number) => Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return { r: byte(0), g: byte(1), b: byte(2), alpha: digits.length === 8 ? byte(3) : 255, hex: `#${digits}` };
}

/** Rec. 709 luma, the weights sharp uses to turn a colour grey. */
export function luma(colour: Colour): number {
  return Math.round(0.2126 * colour.r + 0.7152 * colour.g + 0.0722 * colour.b);
}

/**
 * One pixel of the colour for an image with `channels` interleaved 8-bit channels: grey (1),
 * grey + alpha (2), RGB (3), RGBA (4). Without an alpha channel the colour's alpha is dropped.
 */
export function colourPixel(colour: Colour, channels: 1 | 2 | 3 | 4): Uint8Array {
  switch (channels) {
    case 1:
      return Uint8Array.of(luma(colour));
    case 2:
      return Uint8Array.of(luma(colour), colour.alpha);
    case 3:
      return Uint8Array.of(colour.r, colour.g, colour.b);
    case 4:
      return Uint8Array.of(colour.r, colour.g, colour.b, colour.alpha);
  }
}
