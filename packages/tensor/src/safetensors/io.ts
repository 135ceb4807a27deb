import type { FileHandle } from 'node:fs/promises';

// Node refuses a single read or write of 2 GiB or more; larger tensors go through in chunks.
const MAX_IO_BYTES = 1 << 30;

/**
 * Fills `target` from `handle` starting at absolute `position`. Returns the number of bytes read,
 * which is less than `target.length` only when the file ends first.
 */
export async function readFully(handle: FileHandle, target: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(target.length - done, MAX_IO_BYTES);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Writes all of `bytes` to `handle` at absolute `position`. */
export async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(bytes.length - done, MAX_IO_BYTES);
    const { bytesWritten } = await handle.write(bytes, done, length, position + done);
    done += bytesWritten;
  }
}
