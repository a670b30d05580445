/** Raw little-endian tensor bytes as V2 clients send them (binary extension, gRPC raw contents). */

/** IEEE half-precision bits of a float, rounded to nearest even (finite, normal-range values; smaller ones become zero). */
export function toHalf(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  if (exponent <= 0) return sign;
  let half = sign | (exponent << 10) | ((bits >>> 13) & 0x3ff);
  const rest = bits & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
  return half;
}

/** FP32 values as little-endian bytes. */
export function le32(values: Float32Array): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

/** FP32 values as little-endian FP16 bytes. */
export function le16(values: Float32Array): Buffer {
  const out = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => out.writeUInt16LE(toHalf(v), i * 2));
  return out;
}
