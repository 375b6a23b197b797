/**
 * The read path: every read of an object's bytes goes through here, and through one read strategy
 * that the driver chooses once (`chooseReads`) and injects. A fetch is verified against the
 * content address before it returns: wrong bytes are never returned. (And a duplicate's renewal,
 * `renew`, beside the reads that compare it.)
 *
 * Opening, fstat and closing a file being read are synchronous: a lookup takes microseconds on a
 * local disk, a thread-pool round trip 50 to 250 µs (measured: bench/RESULTS.md, 2026-12-01).
 */
import { createHash, type Hash } from 'node:crypto'
import {
  closeSync,
  constants,
  createReadStream,
  fstatSync,
  futimesSync,
  openSync,
  read,
  readSync,
  type Stats
} from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { promisify } from 'node:util'
import { readUpTo } from '../../core/durable-files.js'
import { IntegrityError } from '../../core/errors.js'
import { HASH_SLICE, type HashSlices } from '../../core/hashing.js'

const readAt = promisify(read)

/**
 * How an object's name is opened for a read: never through a symbolic link (ELOOP, a flag: no syscall more).
 * A link is no object: verify reports it (`not-a-file`), and a read must not serve bytes verify never checked.
 */
export const OBJECT_READ = constants.O_RDONLY | constants.O_NOFOLLOW

/** How the bytes of an open object are read. */
export interface ReadStrategy {
  /** Up to `length` bytes from the start of an open file whose stats are `stats`. */
  read: (fd: number, stats: Stats, length: number, buffer?: Buffer) => Promise<Buffer>
  /** Whether a fetch of this file has the pool copy each slice while the loop hashes the one before. */
  pipelined: (stats: Stats) => boolean
}

/** Every read through libuv's thread pool: one round trip, and the event loop never waits for a disk. */
export class ThreadPoolReads implements ReadStrategy {
  /** `alone`: whether the driver runs one store or fetch now (the driver counts them, adapter.ts). */
  constructor(protected readonly alone: () => boolean) {}

  async read(fd: number, _stats: Stats, length: number, buffer?: Buffer): Promise<Buffer> {
    return await readUpTo(fd, length, buffer)
  }

  /**
   * Alone, a fetch gains from the overlap (1.1-1.2x at 600 KB to 5 MB); beside other fetches the pool's
   * copies overlap their hashing already, and slices cost round trips (0.92-0.98x at 16). Session 10.
   */
  pipelined(_stats: Stats): boolean {
    return this.alone()
  }
}

/** A file modified this recently was just written, or read whole by a duplicate store that renewed it. */
const RECENT_MS = 60_000
/** Copying this much from the page cache takes about as long as hashing one slice of the input (~100 µs). */
const SYNC_READ_BYTES = 1024 * 1024
/** A renewal sets the mtime a little ahead of the clock (never back to its old value): that is recent too. */
const CLOCK_SLACK_MS = 1000

/**
 * A recent object (written or renewed in the last minute, at most 1 MiB: in the page cache) is read
 * synchronously by an operation that runs alone in its driver: no round trip. An older object may
 * have to come from the disk, which must not hold the event loop; and beside other operations the
 * pool's copy overlaps the loop's hashing. Figures in bench/RESULTS.md (2026-12-01, afternoon).
 */
export class PageCacheReads extends ThreadPoolReads {
  override async read(
    fd: number,
    stats: Stats,
    length: number,
    buffer: Buffer = Buffer.allocUnsafe(length)
  ): Promise<Buffer> {
    if (!(inPageCache(stats) && this.alone())) return await readUpTo(fd, length, buffer)
    let done = 0
    for (let got; done < length && (got = readSync(fd, buffer, done, length - done, done)) > 0; ) done += got
    return buffer.subarray(0, done)
  }

  /** A file read synchronously is read whole: slices through the pool measured no faster (600 KB). */
  override pipelined(stats: Stats): boolean {
    return this.alone() && !inPageCache(stats)
  }
}

export function inPageCache(stats: Stats, now = Date.now()): boolean {
  const age = now - stats.mtimeMs
  return stats.size <= SYNC_READ_BYTES && age > -CLOCK_SLACK_MS && age < RECENT_MS
}

/** The one place the read strategy is chosen: `threadPool` for every read through the pool. */
export function chooseReads(alone: () => boolean, threadPool = false): ReadStrategy {
  return threadPool ? new ThreadPoolReads(alone) : new PageCacheReads(alone)
}

/** Buffers up to this size are kept for the next duplicate check. */
const KEPT_SCRATCH_BYTES = 8 * 1024 * 1024

/** Reads objects for one driver, through its strategy, hashing in its slices. */
export class ObjectReader {
  /** One buffer for duplicate checks, reused while it is free: no allocation (and page faults) per duplicate. */
  private scratch?: Buffer

  constructor(
    readonly strategy: ReadStrategy,
    private readonly slices: HashSlices
  ) {}

  /**
   * The whole object at `path`, verified against `sha256` (`IntegrityError` if it holds other bytes).
   * `onUnverified` gets the bytes as read, before the check (`FetchOptions`).
   */
  async fetch(path: string, sha256: string, onUnverified?: (bytes: Buffer) => void): Promise<Buffer> {
    const fd = openSync(path, OBJECT_READ)
    const hash = createHash('sha256')
    let bytes: Buffer
    let hashed = false
    try {
      const stats = fstatSync(fd)
      // (the caller of `onUnverified` overlaps its own work, a render, with the whole hash: read all first)
      hashed = onUnverified === undefined && stats.size > HASH_SLICE && this.strategy.pipelined(stats)
      bytes = hashed ? await this.readHashing(fd, stats, hash) : await this.strategy.read(fd, stats, stats.size)
    } finally {
      closeSync(fd)
    }
    if (!hashed) {
      onUnverified?.(bytes)
      await this.slices.update(bytes, slice => hash.update(slice))
    }
    const actual = hash.digest('hex')
    if (actual !== sha256) throw new IntegrityError(sha256, actual, path)
    return bytes
  }

  /**
   * The whole file, hashed into `hash` as it arrives: the first slice through the strategy, each later
   * one copied by the pool while the loop hashes the one before (a slice's SHA-256 takes about three
   * times its copy from the page cache: bench/RESULTS-full-run.md, session 10). One slice per turn, as
   * `HashSlices`. Resolves only when no read is left in flight: the caller closes the fd then.
   */
  private async readHashing(fd: number, stats: Stats, hash: Hash): Promise<Buffer> {
    const size = stats.size
    const buffer = Buffer.allocUnsafe(size)
    const first = await this.strategy.read(fd, stats, HASH_SLICE, buffer)
    let done = 0
    for (let got = first.length; got > 0; ) {
      const from = done
      done += got
      const next = done < size ? readAt(fd, buffer, done, Math.min(HASH_SLICE, size - done), done) : undefined
      next?.catch(() => {}) // handled below, once this slice is hashed (not an unhandled rejection meanwhile)
      await this.slices.turn()
      hash.update(buffer.subarray(from, done))
      got = next === undefined ? 0 : (await next).bytesRead
    }
    return buffer.subarray(0, done)
  }

  /**
   * Whether an open file holds exactly `bytes`: one read of their length, then the size once more (a
   * file that grew meanwhile is not them). Asking for one byte more would cost a second round trip.
   */
  async holdsBytes(fd: number, stats: Stats, bytes: Buffer): Promise<boolean> {
    const scratch = this.scratch
    const buffer = scratch !== undefined && scratch.length >= bytes.length ? scratch : Buffer.allocUnsafe(bytes.length)
    if (buffer === scratch) this.scratch = undefined
    try {
      const read = await this.strategy.read(fd, stats, bytes.length, buffer)
      return read.equals(bytes) && fstatSync(fd).size === bytes.length
    } finally {
      if (buffer.length <= KEPT_SCRATCH_BYTES && (this.scratch === undefined || this.scratch.length < buffer.length))
        this.scratch = buffer
    }
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

/** When the object was first stored: its birth time where the filesystem keeps one, else its mtime. */
export function firstStored(stats: Stats): Date {
  // Never the mtime when a birth time exists, even for a copy that kept an older mtime (migrate):
  // a renewal moves the mtime, and the first store must not move with it.
  return stats.birthtimeMs > 0 ? stats.birthtime : stats.mtime
}

/**
 * Sets the object's mtime to now (never back): `renewed`; `read-only` on a read-only filesystem; `not-ours` for
 * another user's file (only its owner may set its times: the Python service's, in a group-writable store).
 */
export function renew(fd: number, stats: Stats): 'renewed' | 'read-only' | 'not-ours' {
  // (seconds as a double lose a little on the way to nanoseconds: an mtime set to 376 ms may read
  // 375.999999, so round up, and add 0.5 ms so that the new one cannot fall back to the old ms)
  const renewed = (Math.max(Date.now(), Math.ceil(stats.mtimeMs) + 1) + 0.5) / 1000
  try {
    futimesSync(fd, stats.atimeMs / 1000, renewed)
    return 'renewed'
  } catch (err) {
    const { code } = err as NodeJS.ErrnoException
    if (code === 'EROFS') return 'read-only'
    if (code === 'EPERM' || code === 'EACCES') return 'not-ours'
    throw err
  }
}

/** A copy that cannot be read (EIO: a failing disk) is a damaged one: a store replaces it (its frame alone). */
export function unreadable(err: unknown): false {
  if ((err as NodeJS.ErrnoException)?.code === 'EIO') return false
  throw err
}
