/** A multipart body for `app.inject` or `fetch`: files and text fields, in order. */
export function form(parts: Record<string, string | number | boolean | Buffer | Buffer[] | undefined>): FormData {
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
