export type FormPart = string | number | boolean | Buffer;

/** A multipart body for `app.inject` or `fetch`: files and text fields, in order; an array repeats its field. */
export function form(parts: Record<string, FormPart | FormPart[] | undefined>): FormData {
  const body = new FormData();
  for (const [name, value] of Object.entries(parts)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (Buffer.isBuffer(item)) body.append(name, new Blob([new Uint8Array(item)]), `${name}.bin`);
      else body.append(name, String(item));
    }
  }
  return body;
}
