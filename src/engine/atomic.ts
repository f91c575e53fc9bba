// Atomic file writes for the engine (stage outputs, ctx.map's chunks and records): a temporary name in the same
// folder, renamed once complete, so a reader or a resumed run never sees half a file.
import { mkdirSync } from 'node:fs';
import { open, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `data` in order at the file position (writev in groups, short writes completed), without concatenating. */
export async function writeChunks(fh: FileHandle, data: readonly Uint8Array[]): Promise<void> {
  for (let i = 0; i < data.length; i += 512) {
    const group = data.slice(i, i + 512);
    let { bytesWritten: done } = await fh.writev(group as Uint8Array[]);
    // a short write (rare for regular files): the rest chunk by chunk
    for (const c of group) {
      if (done >= c.byteLength) {
        done -= c.byteLength;
        continue;
      }
      let off = done;
      done = 0;
      while (off < c.byteLength) off += (await fh.write(c, off, c.byteLength - off)).bytesWritten;
    }
  }
}

/**
 * Writes a file atomically: into `<path>.<pid>.tmp` (its folder created), renamed over `path` once complete. `data`:
 * bytes or text, chunks written in order without concatenating them, or a writer streaming into the file.
 */
export async function writeAtomic(path: string, data: Uint8Array | string | readonly Uint8Array[] | ((fh: FileHandle) => Promise<void>)): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  if (typeof data === 'string' || data instanceof Uint8Array) await writeFile(tmp, data);
  else {
    // chunks written in order without concatenating them first, or a writer streaming into the file
    const fh = await open(tmp, 'w');
    try {
      if (typeof data === 'function') await data(fh);
      else await writeChunks(fh, data);
    } finally {
      await fh.close();
    }
  }
  await rename(tmp, path);
}
