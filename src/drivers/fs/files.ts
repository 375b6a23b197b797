/**
 * Small filesystem steps the driver, its walk and `verify` share.
 *
 * Each asynchronous fs call is a round trip through libuv's thread pool (50 to 100 µs on these
 * machines). The calls that only read metadata (open for reading, fstat, stat, close after a
 * read) are synchronous: microseconds on a local disk, far below the time the event loop spends
 * hashing the same bytes. So is the renewal of a duplicate's mtime (see `renew`). The calls that
 * change the tree (create, link, unlink, mkdir, and close of a written file) stay asynchronous:
 * under fsync load on ext4 they wait for the journal, measured at up to 18 ms, which would stop the
 * event loop.
 */
import { createHash } from 'node:crypto'
import {
  close,
  closeSync,
  constants,
  createReadStream,
  fstatSync,
  fsync,
  futimesSync,
  open as openCallback,
  openSync,
  statSync,
  write,
  type Stats
} from 'node:fs'
import { open, unlink, type FileHandle } from 'node:fs/promises'
import { promisify } from 'node:util'
import { isMissing } from '../../core/errors.js'
import { inPageCache, readStart } from './page-cache.js'

const writeAt = promisify(write)
const fsyncFd = promisify(fsync)
/** open and close as descriptors, asynchronously: for files being written (their close may wait for the journal). */
export const openFd = promisify(openCallback)
export const closeFd = promisify(close)

/** fsync of an open file: one round trip. */
export async function syncFile(fd: number): Promise<void> {
  await fsyncFd(fd)
}

const WRITE_CHUNK_BYTES = 1024 * 1024

/** Whether `size` bytes go to disk in one write call (see `writeAll`). */
export function fitsOneWrite(size: number): boolean {
  return size <= WRITE_CHUNK_BYTES
}

/**
 * Flags of a new file whose one write is also its sync: with O_DSYNC, the write returns once the
 * bytes and what is needed to read them back are on stable storage, as write and fdatasync would,
 * in one thread-pool round trip instead of two.
 */
export const CREATE_DSYNC = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC

/**
 * Writes all of `bytes` at `position`, at most 1 MiB per call: one round trip for a typical frame,
 * and a 5 MB one does not hold a pool thread (and a core) for its whole copy. Measured with 16
 * concurrent 5 MB stores on 2 cores: the longest event-loop delay fell from 13-35 ms to 11-13 ms.
 */
export async function writeAll(fd: number, bytes: Uint8Array, position = 0): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await writeAt(
      fd,
      bytes,
      done,
      Math.min(bytes.length - done, WRITE_CHUNK_BYTES),
      position + done
    )
    done += bytesWritten
  }
}

/** Buffers up to this size are kept for the next duplicate check. */
const KEPT_SCRATCH_BYTES = 8 * 1024 * 1024
let scratch: Buffer | undefined

/** Opens `path` for reading (synchronously), or undefined if nothing is there. */
export function openSyncIfExists(path: string): number | undefined {
  try {
    return openSync(path, 'r')
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

/** A lookup: false for anything but a directory, or nothing there. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function statIfThere(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

/** Opens `path` for reading, or undefined if nothing is there. */
export async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r')
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

/** SHA-256 hex of everything an open file holds, read in a stream. */
export async function hashFile(file: FileHandle | number, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  const stream =
    typeof file === 'number'
      ? createReadStream('', { fd: file, autoClose: false, start: 0, signal })
      : file.createReadStream({ autoClose: false, start: 0, signal })
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * The stored object's stat if the file at `path` is intact by `check`, else undefined
 * (absent, truncated, corrupt): only an intact object counts as a duplicate. `check` is told to
 * read synchronously when the caller runs `alone` and the object is in the page cache (see `inPageCache`).
 * `durable`: the renewal is fsynced before this resolves.
 */
export async function statIfIntact(
  path: string,
  size: number,
  check: (fd: number, sync: boolean) => Promise<boolean>,
  alone = false,
  durable = false
): Promise<Stats | undefined> {
  const fd = openSyncIfExists(path) // a lookup: microseconds
  if (fd === undefined) return undefined
  try {
    const stats = fstatSync(fd)
    if (!(stats.isFile() && stats.size === size)) return undefined
    const sync = alone && inPageCache(stats)
    // A duplicate store is a store: the object is young again (retention ages objects by mtime).
    // Renew, then re-check (see ImageStorage.deleteIfNotRenewed): a prune sets a candidate aside
    // before it deletes it, and puts it back if it sees the new mtime; if the name is empty now,
    // the caller writes the bytes anew. A damaged object renewed here is replaced by the caller anyway.
    const renewed = renew(fd, stats)
    if (!(await check(fd, sync))) return undefined
    if (!renewed) return stats
    // the new mtime is the store's acknowledgement to retention: lost to a power cut, a prune by
    // age would delete the frame just stored (found by the crash harness, test/crash)
    if (durable) await syncFile(fd)
    const now = statIfThere(path)
    return now !== undefined && now.ino === stats.ino && now.dev === stats.dev ? stats : undefined
  } finally {
    closeSync(fd)
  }
}

/**
 * Sets the object's mtime to now (never back, never to its old value), synchronously: an inode
 * update takes microseconds, and under fsync load from 4 writers in the same directory its tail
 * (p99.9 165 µs) was that of an fstat (117 µs), the scheduler's, not the journal's. False on a
 * read-only mount or a file of another user (the Python service's): intact, not renewed.
 */
function renew(fd: number, stats: Stats): boolean {
  // (seconds as a double lose a little on the way to nanoseconds: an mtime set to 376 ms may read
  // 375.999999, so round up, and add 0.5 ms so that the new one cannot fall back to the old ms)
  const renewed = (Math.max(Date.now(), Math.ceil(stats.mtimeMs) + 1) + 0.5) / 1000
  try {
    futimesSync(fd, stats.atimeMs / 1000, renewed)
    return true
  } catch (err) {
    if (['EROFS', 'EPERM', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) return false
    throw err
  }
}

/** When the object was first stored: its birth time where the filesystem keeps one, else its mtime. */
export function firstStored(stats: Stats): Date {
  // Never the mtime when a birth time exists, even for a copy that kept an older mtime (migrate):
  // a renewal moves the mtime, and the first store must not move with it.
  return stats.birthtimeMs > 0 ? stats.birthtime : stats.mtime
}

/**
 * Whether an open file holds exactly `bytes`: one read of their length, then the size once more (a
 * file that grew meanwhile is not them). Asking for one byte more would cost a second round trip,
 * a read that finds the end of the file.
 */
export async function holdsBytes(fd: number, bytes: Buffer, sync = false): Promise<boolean> {
  // one buffer reused while it is free: no allocation (and its page faults) per duplicate
  const buffer = scratch !== undefined && scratch.length >= bytes.length ? scratch : Buffer.allocUnsafe(bytes.length)
  if (buffer === scratch) scratch = undefined
  try {
    return (await readStart(fd, bytes.length, buffer, sync)).equals(bytes) && fstatSync(fd).size === bytes.length
  } finally {
    if (buffer.length <= KEPT_SCRATCH_BYTES && (scratch === undefined || scratch.length < buffer.length))
      scratch = buffer
  }
}

/** Removes a file that may already be gone. */
export async function removeIfExists(path: string): Promise<void> {
  await unlink(path).catch((err: unknown) => {
    if (!isMissing(err)) throw err
  })
}
