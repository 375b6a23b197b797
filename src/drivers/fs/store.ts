/**
 * A store: the input hashed, named once, a duplicate recognised by its bytes (and renewed), else
 * written by write.ts. A name taken by a damaged or unreadable file is replaced; an intact one: another's won.
 * And the store's root, watched (`StoreRoot`).
 */
import { closeSync, fstatSync, fsync, futimes, openSync, statSync, type Stats } from 'node:fs'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { isMissing, StorageUnavailableError } from '../../core/errors.js'
import { aboutOption, type Wording } from '../../core/option-names.js'
import { HASH_SLICE, type Digest, type HashSlices } from '../../core/hashing.js'
import type { InputLimits } from '../../core/input.js'
import type { ShardingStrategy } from '../../core/sharding.js'
import type { FilesystemDriverInit } from './init.js'
import { firstStored, OBJECT_READ, type ObjectReader, renew, unreadable } from './read.js'
import { fsyncDir, isYoung, linkIntoPlace, removeIfExists, writeTemp, type WriteContext } from './write.js'
import { gatedWriteAt, WRITE_CHUNK_BYTES, writeAt } from './write-calls.js'

/** Writes all of `bytes` at `position`, at most 1 MiB per call; those of a larger input through the gate. */
export async function writeAll(fd: number, bytes: Uint8Array, position = 0): Promise<void> {
  const writeCall = bytes.length > WRITE_CHUNK_BYTES ? gatedWriteAt : writeAt
  for (let done = 0; done < bytes.length; ) {
    const length = Math.min(bytes.length - done, WRITE_CHUNK_BYTES)
    done += (await writeCall(fd, bytes, done, length, position + done)).bytesWritten
  }
}

export const futimesAsync = promisify(futimes)
const fsyncAsync = promisify(fsync)

export interface Stored {
  digest: Digest
  key: string
  path: string
  isDuplicate: boolean
  storedAt: Date
}

export interface StoreContext extends WriteContext {
  sharding: ShardingStrategy
  reader: ObjectReader
  slices: HashSlices
}

/** What a store may be told: `mtime` is the last store of a copy that keeps its times. */
export interface StoreCall {
  limits: InputLimits
  signal?: AbortSignal
  mtime?: Date
}

export type Check = (fd: number, stats: Stats) => Promise<boolean>
type Place = { key: string; path: string }

/** An early temp goes in the folder of one of the last this many frames stored. */
const LENDERS = 16

export class FrameStore {
  /** The folders of the last frames stored, in order, and how many early temps they took. */
  private readonly recent: string[] = []
  private lent = 0

  constructor(readonly context: StoreContext) {}

  async storeBytes(bytes: Buffer, { limits, signal, mtime }: StoreCall): Promise<Stored> {
    const { context } = this
    const keptTimes = mtime !== undefined
    const write = async (fd: number): Promise<void> => {
      await writeAll(fd, bytes)
      if (keptTimes) await futimesAsync(fd, mtime, mtime)
    }
    // no fsync, over a hash slice: the temp written while the bytes hash, each in a recent frame's folder, not all
    // in .tmp: one lock for 8 writers, one ext4 block group for their inodes (RESULTS-fsync-off.md); up to a
    // slice, hashed first, written only if new. A synced write would wait
    const folder = this.recent[this.lent++ % this.recent.length] // (undefined: .tmp)
    const hashFirst = context.fsync || bytes.length <= HASH_SLICE
    const early = hashFirst ? undefined : writeTemp(context, undefined, write, { folder, keptTimes })
    early?.catch(() => {}) // (awaited, or dropped; a failed one removed its temp)
    const sameBytes: Check = async (fd, stats) => await context.reader.holdsBytes(fd, stats, bytes)
    const drop = (): void => {
      if (early)
        context.later(
          early.then(removeIfExists, () => {}),
          'fs.temp-remove-failed',
          folder ?? '.tmp'
        )
    }
    let digest: Digest
    let place: Place
    let existing: Stats | undefined
    try {
      digest = await context.slices.digest(bytes, limits)
      place = this.place(digest)
      // no fsync: a miss costs a lookup (no failing open); a name taken since: the link's EEXIST
      if (context.fsync || statSync(place.path, { throwIfNoEntry: false }))
        existing = await this.intact(place.path, bytes.length, sameBytes)
    } catch (err) {
      drop()
      throw err
    }
    if (existing !== undefined) {
      drop()
      return { digest, ...place, isDuplicate: true, storedAt: firstStored(existing) }
    }
    if (early !== undefined) return await this.commit(await early, digest, place, sameBytes, signal)
    signal?.throwIfAborted()
    // O_DSYNC makes the write durable, not a later change of times: those need the fsync
    const oneWrite = !keptTimes && bytes.length <= WRITE_CHUNK_BYTES
    const temp = await writeTemp(context, place.path, write, { oneWrite, keptTimes })
    return await this.commit(temp, digest, place, sameBytes, signal, true)
  }

  /** Where the frame goes (and, below, its commit): a stream's store (stream.ts) uses both. */
  place(digest: Digest): Place {
    const key = this.context.sharding.encode(digest.sha256)
    return { key, path: join(this.context.root, key) }
  }

  async commit(
    temp: string,
    digest: Digest,
    { key, path }: Place,
    check: Check,
    signal?: AbortSignal,
    seen = false
  ): Promise<Stored> {
    if (signal?.aborted === true) {
      await removeIfExists(temp).catch(() => {}) // (verify removes a temp left behind)
      signal.throwIfAborted()
    }
    const taken = async (): Promise<Stats | undefined> => await this.intact(path, digest.size, check)
    const existing = await linkIntoPlace(this.context, temp, path, taken, seen)
    if (this.recent.push(dirname(path)) > LENDERS) this.recent.shift()
    return existing === undefined
      ? { digest, key, path, isDuplicate: false, storedAt: new Date() }
      : { digest, key, path, isDuplicate: true, storedAt: firstStored(existing) }
  }

  /**
   * The object's stat if the file at `path` is intact by `check` and renewed (or on a read-only
   * filesystem), else undefined. Open, fstat, renewal and close are synchronous (µs).
   */
  private async intact(path: string, size: number, check: Check): Promise<Stats | undefined> {
    const fd = openIfThere(path)
    if (fd === undefined) return undefined
    try {
      const stats = fstatSync(fd)
      if (!(stats.isFile() && stats.size === size)) return undefined
      // A duplicate store is a store: the object is young again (retention ages by mtime). Renew, then re-check
      // (deleteIfNotRenewed: a prune puts back one it sees renewed); else the caller writes anew, as for another
      // user's file, whose time only its owner may set (unrenewed, a prune takes it)
      const renewal = renew(fd, stats)
      if (renewal === 'not-ours') return undefined
      const renewed = renewal === 'renewed'
      if (!(await check(fd, stats).catch(unreadable))) return undefined
      // the new mtime is retention's acknowledgement (lost, a prune by age deletes it: test/crash); a young name
      // (by birth, or change: a prune's put back) may be a writer's not yet fsynced: made durable, with its folder
      const fresh = isYoung(stats) || Date.now() - stats.ctimeMs < 60_000
      if (this.context.fsync && (renewed || fresh)) {
        const dir = dirname(path)
        await Promise.all([fsyncAsync(fd), fresh && fsyncDir(dir), fresh && this.context.dirs.settle(dir)])
      }
      if (!renewed) return stats
      const now = statSync(path, { throwIfNoEntry: false })
      return now !== undefined && now.ino === stats.ino && now.dev === stats.dev ? stats : undefined
    } finally {
      closeSync(fd)
    }
  }
}

/**
 * The store's root, watched: an unmounted array never reads as an empty store. Checked where a
 * lookup misses; its identity (device, inode) remembered: a root that disappears or is replaced
 * (an unmount leaves the mount point) is `ERR_STORAGE_UNAVAILABLE`. (A new shard folder checks it.)
 */
export class StoreRoot {
  private identity?: { dev: number; ino: number }

  /** `creatable`: a missing root is the library's to make (until it has been seen once). */
  private readonly creatable: boolean
  /** Why a missing root is not created, for messages (default: createRoot is false). */
  private readonly notCreatedBecause: Wording

  constructor(
    readonly path: string,
    init: Pick<FilesystemDriverInit, 'createRoot' | 'notCreatedBecause'>
  ) {
    this.creatable = init.createRoot ?? true
    const { notCreatedBecause } = init
    this.notCreatedBecause = name => notCreatedBecause ?? `${name('createRoot')} is false`
  }

  /**
   * True if the root is there and is the directory seen before; false if it is missing and the
   * library's to create (nothing was stored yet). Anything else throws `ERR_STORAGE_UNAVAILABLE`.
   */
  check(): boolean {
    let stats
    try {
      stats = statSync(this.path) // microseconds: a miss, or a new shard directory, costs no round trip
    } catch (err) {
      if (isMissing(err) && this.creatable && this.identity === undefined) return false
      if (isMissing(err))
        throw this.unavailable(
          this.identity === undefined
            ? name => `does not exist (${this.notCreatedBecause(name)}: is the array mounted?)`
            : 'has disappeared (unmounted?)',
          err
        )
      throw StorageUnavailableError.fromSystemError(err as NodeJS.ErrnoException, this.path, 'root')
    }
    if (!stats.isDirectory()) throw this.unavailable('is not a directory')
    if (this.identity === undefined) this.identity = { dev: stats.dev, ino: stats.ino }
    else if (this.identity.dev !== stats.dev || this.identity.ino !== stats.ino)
      throw this.unavailable('is no longer the directory it was (unmounted, or replaced)')
    return true
  }

  /** Like `check`, for a root that must be there now. */
  require(): void {
    if (!this.check()) throw this.unavailable('does not exist')
  }

  /** An OS error met in the store, as `ERR_STORAGE_UNAVAILABLE` naming the option that moves it (`root`). */
  failure(err: NodeJS.ErrnoException, path = this.path): StorageUnavailableError {
    return StorageUnavailableError.fromSystemError(err, path, 'root')
  }

  private unavailable(why: string | Wording, cause?: unknown): StorageUnavailableError {
    const said: Wording = name => (typeof why === 'string' ? why : why(name))
    return aboutOption(
      'root',
      name => `Image storage unavailable: the root ${this.path} ${said(name)}. Check the mount or set ${name('root')}.`,
      message => new StorageUnavailableError(message, this.path, { cause })
    )
  }
}

/** The object's file, open (not through a link), or undefined: none, or a link (no object: the store replaces it). */
function openIfThere(path: string): number | undefined {
  try {
    return openSync(path, OBJECT_READ)
  } catch (err) {
    if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(String((err as NodeJS.ErrnoException).code))) return undefined
    throw err
  }
}
