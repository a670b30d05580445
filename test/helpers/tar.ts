import { Readable } from 'node:stream';
import tar from 'tar-stream';

export interface TarMember {
  name: string;
  data?: Buffer | string;
  type?: tar.Headers['type'];
  linkname?: string;
}

/** A tar of `members`, in order, with fixed times (tar-stream's own writer). */
export async function makeTar(members: TarMember[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = collectStream(pack);
  for (const member of members) {
    const data = member.data === undefined ? undefined : Buffer.from(member.data);
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name: member.name, mtime: new Date(0), type: member.type ?? 'file', linkname: member.linkname, ...(data ? { size: data.length } : {}) },
        data ?? Buffer.alloc(0),
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  }
  pack.finalize();
  return done;
}

async function collectStream(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Every member of a tar, by name, in order (names repeated are kept in the list). */
export async function readTar(bytes: Buffer): Promise<Array<{ name: string; data: Buffer }>> {
  const extract = tar.extract();
  const out: Array<{ name: string; data: Buffer }> = [];
  Readable.from([bytes]).pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) out.push({ name: entry.header.name, data: await collectStream(entry) });
  return out;
}
