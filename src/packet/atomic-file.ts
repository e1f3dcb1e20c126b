// Replace a file atomically: write a temp file beside it, fsync, rename over
// the old one, fsync the directory. A reader (or a crash) sees the old file
// or the new one, never half of one. Used for the database (ctl/db.ts) and
// the conntrack save file (conntrack/save-file.ts).

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const writeAll = (fd: number, b: Uint8Array) => {
  let off = 0;
  while (off < b.byteLength) off += writeSync(fd, b, off, b.byteLength - off);
};

/**
 * Write `chunks` to `file` atomically (mode 0600) and return the bytes
 * written. On failure the temp file is removed, the old file is left as it
 * was, and the error (with its errno code) is thrown. `write` replaces the
 * write of one chunk (tests: a full disk).
 */
export function writeFileAtomic(file: string, chunks: readonly Uint8Array[], write: (fd: number, b: Uint8Array) => void = writeAll): number {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.tmp-${process.pid}`);
  let fd = -1;
  let bytes = 0;
  try {
    fd = openSync(tmp, 'w', 0o600);
    for (const c of chunks) {
      write(fd, c);
      bytes += c.byteLength;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, file);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw e;
  }
  fsyncDir(dir);
  return bytes;
}

/** Make a directory's entries (a rename, a new file) durable; some filesystems refuse fsync on directories, which is let go. */
export function fsyncDir(dir: string): void {
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Refused: a rename is still atomic, only not yet durable.
  }
}

/**
 * writeFileAtomic without holding the event loop: the same steps (temp
 * file `.NAME.tmp-PID-async`, fsync, rename, fsync of the directory) on
 * libuv's thread pool. The caller keeps two writes of one file from
 * overlapping (ctl/db-saver.ts); the temp name differs from the
 * synchronous writer's, so the two never write into one temp file. When
 * `stillWanted` says no just before the rename (a newer save of the file
 * was made meanwhile), the temp file is removed and null returned: an
 * older snapshot never replaces a newer one.
 */
export async function writeFileAtomicAsync(file: string, chunks: readonly Uint8Array[], stillWanted?: () => boolean): Promise<number | null> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.tmp-${process.pid}-async`);
  let fh: FileHandle | null = null;
  let bytes = 0;
  try {
    fh = await open(tmp, 'w', 0o600);
    for (const c of chunks) {
      for (let off = 0; off < c.byteLength;) off += (await fh.write(c, off, c.byteLength - off)).bytesWritten;
      bytes += c.byteLength;
    }
    await fh.sync();
    await fh.close();
    fh = null;
    if (stillWanted && !stillWanted()) {
      await unlink(tmp);
      return null;
    }
    await rename(tmp, file);
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  try {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // As above: the rename is atomic without it.
  }
  return bytes;
}
