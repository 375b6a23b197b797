/**
 * Stores each image once, at `{root}/{h[0:2]}/{h[2:4]}/{h}.jpg` where h is its SHA-256 hex: the
 * layout the Python service writes, so both can share one store.
 *
 * A write goes to a uniquely named temp file in `{root}/.tmp`, is fsynced, linked into place
 * without overwriting, and the shard directory is fsynced before `store` resolves. A writer that
 * finds the name taken checks the bytes there: intact means another writer won (a duplicate);
 * anything else (a 0-byte or truncated file from a crashed writer) is replaced.
 *
 * @example
 * ```ts
 * const storage = new FilesystemDriver({ root: '/mnt/raid/images' })
 * const { hash, key, isDuplicate } = await storage.store(jpegBuffer)
 * const bytes = await storage.fetch(hash) // verified against the hash
 * ```
 */
import { createHash, randomUUID } from 'node:crypto'
import { statSync } from 'node:fs'
import { chmod, link, mkdir, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { addAbortSignal, type Readable } from 'node:stream'
import { ImageStorageError, IntegrityError, InvalidInputError, isUnavailable, NotFoundError, StorageUnavailableError } from '../../src/core/errors.js'
import { digestBytesInSlices, ImageHasher, readInput, updateInSlices, type ImageInput, type InputLimits } from '../../src/core/input.js'
import { resolveLimits, type LimitsInit } from '../../src/core/limits.js'
import { SNIFF_BYTES, sniffImageType, UNKNOWN_MIME_TYPE } from '../../src/core/mime.js'
import { parseImageRef } from '../../src/core/ref.js'
import { verifiedStream } from '../../src/core/verified-stream.js'
import { PrefixSharding, type ShardingStrategy } from '../../src/core/sharding.js'
import type { AbortOptions, ImageEntry, ImageStat, ImageStorage, StorageResult, StoreOptions } from '../../src/core/types.js'
import { closeFd, CREATE_DSYNC, firstStored, fitsOneWrite, fsyncDir, hashFile, holdsBytes, isDirectory, isMissing, openFd, openIfExists, readWhole, removeIfExists, statIfIntact, syncFile, writeAll } from './files.js'
import { deleteIfNotRenewed } from './prune.js'
import { StoreRoot } from './root.js'
import { verifyStore, walkStore, TEMP_DIR, type VerifyOptions, type VerifyReport } from './verify.js'

export const DEFAULT_ROOT = './data/images'

export interface FilesystemDriverInit extends LimitsInit {
  /** Default `./data/images`, resolved against the working directory. */
  root?: string
  /** Default: storage.py's layout, depth 2, width 2. */
  sharding?: ShardingStrategy
  /** Exact mode of new objects (e.g. `0o664`). Default: 0o666 less the umask. */
  fileMode?: number
  /** Exact mode of new directories (e.g. `0o2775`). Default: 0o777 less the umask. */
  dirMode?: number
  /** Default true. False skips every fsync: faster, and a power cut may leave empty or missing objects. */
  fsync?: boolean
  /** Default true. False: a missing root is `ERR_STORAGE_UNAVAILABLE` (a mount that is not there). */
  createRoot?: boolean
}

export class FilesystemDriver implements ImageStorage {
  readonly driver = 'fs'
  readonly root: string
  readonly sharding: ShardingStrategy
  private readonly init: FilesystemDriverInit
  private readonly fsync: boolean
  private ready?: Promise<void>
  private readonly watched: StoreRoot
  /** Closes and temp removals that nothing waits for; `close`, `list` and `verify` wait for them. */
  private readonly settling = new Set<Promise<void>>()
  /**
   * Stores and fetches in progress. A stored object is read synchronously only by an operation that
   * runs alone (see `inPageCache`): beside others, the thread pool copies while the loop hashes.
   */
  private running = 0

  constructor (init: FilesystemDriverInit = {}) {
    this.init = init
    this.root = resolve(init.root ?? DEFAULT_ROOT)
    this.sharding = init.sharding ?? new PrefixSharding()
    this.fsync = init.fsync ?? true
    this.watched = new StoreRoot(this.root, init.createRoot ?? true)
  }

  async store (input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    options.signal?.throwIfAborted()
    const limits = resolveLimits(this.init, options)
    const source = await readInput(input, limits)
    return await this.counted(async () => await this.guard(async () => 'bytes' in source
      ? await this.storeBytes(source.bytes, limits, options.signal)
      : await this.storeChunks(source.chunks, limits, options.signal)))
  }

  private async storeBytes (bytes: Buffer, limits: InputLimits, signal?: AbortSignal): Promise<StorageResult> {
    const digest = await digestBytesInSlices(bytes, limits)
    const path = join(this.root, this.sharding.encode(digest.sha256))
    const sameBytes = async (fd: number, sync: boolean): Promise<boolean> => await holdsBytes(fd, bytes, sync)
    const existing = await statIfIntact(path, bytes.length, sameBytes, this.running === 1)
    if (existing !== undefined) return this.result(digest, true, firstStored(existing))
    signal?.throwIfAborted()
    // Beside its final name: writers of different images never share a directory lock. In a new
    // shard, staged in {root}/.tmp while the shard directory is made (one round trip less).
    const shard = dirname(path)
    await this.ensureRoot()
    const made = isDirectory(shard) ? undefined : this.makeShardDir(shard)
    const staged = made === undefined ? `${path}.${randomUUID()}.tmp` : join(this.root, TEMP_DIR, `${randomUUID()}.tmp`)
    const [written, ready] = await Promise.allSettled([this.writeTemp(staged, async fd => { await writeAll(fd, bytes) }, fitsOneWrite(bytes.length)), made])
    if (ready.status === 'rejected') {
      if (written.status === 'fulfilled') await removeIfExists(written.value)
      throw ready.reason
    }
    if (written.status === 'rejected') throw written.reason
    return await this.commit(written.value, path, digest, sameBytes, signal)
  }

  private async storeChunks (chunks: AsyncIterable<Uint8Array>, limits: InputLimits, signal?: AbortSignal): Promise<StorageResult> {
    const hasher = new ImageHasher(limits)
    let digest!: ReturnType<ImageHasher['digest']>
    // the shard is known only at the end: staged in {root}/.tmp, on the same filesystem
    const temp = await this.writeTemp(join(this.root, TEMP_DIR, `${randomUUID()}.tmp`), async fd => {
      let position = 0
      for await (const chunk of chunks) {
        signal?.throwIfAborted()
        hasher.update(chunk)
        await writeAll(fd, chunk, position)
        position += chunk.byteLength
      }
      digest = hasher.digest()
    })
    const sameHash = async (fd: number): Promise<boolean> => await hashFile(fd, signal) === digest.sha256
    return await this.commit(temp, join(this.root, this.sharding.encode(digest.sha256)), digest, sameHash, signal)
  }

  /**
   * A complete, durable temp file written by `write`; removed again if anything fails. A durable
   * file written in one call (`oneWrite`) is opened with O_DSYNC (see CREATE_DSYNC): one round trip less.
   */
  private async writeTemp (temp: string, write: (fd: number) => Promise<void>, oneWrite = false): Promise<string> {
    await this.ensureRoot()
    // with an exact mode, the chmod after the write is synced by fsync as before
    const dsync = this.fsync && oneWrite && this.init.fileMode === undefined
    // the calls that change the tree are asynchronous: under fsync load they wait for the journal
    const fd = await this.inShardDir(temp, async () => await openFd(temp, dsync ? CREATE_DSYNC : 'wx', this.init.fileMode ?? 0o666))
    try {
      await write(fd)
      if (this.init.fileMode !== undefined) await chmod(temp, this.init.fileMode)
      if (this.fsync && !dsync) await syncFile(fd)
    } catch (err) {
      await closeFd(fd)
      await removeIfExists(temp)
      throw err
    }
    // Nothing waits for the close: the bytes are written (and synced when asked), the link takes
    // the path, and on a local disk close reports no error that fsync has not (one round trip less).
    this.later(closeFd(fd))
    return temp
  }

  /** Moves the temp into place without overwriting an intact object, then makes the name durable. */
  private async commit (temp: string, path: string, digest: Digest, isIntact: (fd: number, sync: boolean) => Promise<boolean>, signal?: AbortSignal): Promise<StorageResult> {
    let existing
    try {
      signal?.throwIfAborted()
      if (!await this.linkIntoPlace(temp, path)) {
        existing = await statIfIntact(path, digest.size, isIntact, this.running === 1)
        if (existing === undefined) await rename(temp, path) // the object there is damaged (or was just pruned): replace it, atomically
      }
    } catch (err) {
      await removeIfExists(temp)
      throw err
    }
    // the temp's name goes without a wait: the object is in place (verify removes a temp a crash left)
    this.later(removeIfExists(temp))
    if (this.fsync && existing === undefined) await fsyncDir(dirname(path))
    return existing === undefined ? this.result(digest, false, new Date()) : this.result(digest, true, firstStored(existing))
  }

  async fetch (ref: string, options: AbortOptions = {}): Promise<Buffer> {
    const { sha256, path } = this.locate(ref)
    return await this.counted(async () => {
      let bytes: Buffer
      try {
        options.signal?.throwIfAborted()
        bytes = await readWhole(path, this.running === 1)
      } catch (err) {
        throw await this.readError(err, sha256, path)
      }
      const hash = createHash('sha256')
      await updateInSlices(bytes, slice => hash.update(slice))
      const actual = hash.digest('hex')
      if (actual !== sha256) throw new IntegrityError(sha256, actual, path)
      return bytes
    })
  }

  async fetchStream (ref: string, options: AbortOptions = {}): Promise<Readable> {
    const { sha256, path } = this.locate(ref)
    options.signal?.throwIfAborted()
    const handle = await this.openObject(sha256, path)
    const verify = verifiedStream(handle.createReadStream(), sha256, path)
    return options.signal === undefined ? verify : addAbortSignal(options.signal, verify)
  }

  /** Present and non-empty. Does not re-hash: `fetch` and `verify` do. */
  async exists (ref: string, options: AbortOptions = {}): Promise<boolean> {
    const { sha256, path } = this.locate(ref)
    options.signal?.throwIfAborted()
    try {
      const stats = statSync(path)
      return stats.isFile() && stats.size > 0
    } catch (err) {
      if (isMissing(err)) {
        await this.watched.check() // an unmounted store is unavailable, not empty
        return false
      }
      throw await this.readError(err, sha256, path)
    }
  }

  async stat (ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    const { sha256, path } = this.locate(ref)
    options.signal?.throwIfAborted()
    const handle = await this.openObject(sha256, path)
    try {
      const stats = await handle.stat()
      const { buffer: head, bytesRead } = await handle.read(Buffer.alloc(SNIFF_BYTES), 0, SNIFF_BYTES, 0)
      const mimeType = sniffImageType(head.subarray(0, bytesRead)) ?? UNKNOWN_MIME_TYPE
      return { hash: sha256, sha256, path, key: this.sharding.encode(sha256), size: stats.size, storedAt: firstStored(stats), lastStoredAt: stats.mtime, mimeType }
    } finally {
      await handle.close()
    }
  }

  async delete (ref: string, options: AbortOptions = {}): Promise<boolean> {
    const { path } = this.locate(ref)
    options.signal?.throwIfAborted()
    return await this.guard(async () => {
      try {
        await unlink(path)
      } catch (err) {
        if (!isMissing(err)) throw err
        await this.watched.check() // an unmounted store is unavailable, not empty
        return false
      }
      if (this.fsync) await fsyncDir(dirname(path))
      return true
    })
  }

  async * list (options: AbortOptions = {}): AsyncGenerator<ImageEntry> {
    await this.settle()
    if (!await this.watched.check()) return
    for await (const file of walkStore(this.root, this.sharding, options.signal)) {
      const sha256 = this.sharding.decode(file.key)
      if (sha256 !== undefined) yield { hash: sha256, sha256, key: file.key, path: file.path }
    }
  }

  /** Deletes the object unless a store renewed it after `lastStoredAt`: see prune.ts. */
  async deleteIfNotRenewed (ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    const { sha256, path } = this.locate(ref)
    options.signal?.throwIfAborted()
    return await this.guard(async () => {
      const deleted = await deleteIfNotRenewed(this.root, path, sha256, lastStoredAt, this.fsync)
      if (!deleted) await this.watched.check() // a miss on an unmounted store is no "gone already"
      return deleted
    })
  }

  /**
   * The fsck to run after a crash: re-hashes every object, finds corrupt, truncated and misnamed
   * files and stray temps; with `repair`, quarantines the bad and removes the strays.
   */
  async verify (options: VerifyOptions = {}): Promise<VerifyReport> {
    return await this.guard(async () => {
      await this.settle() // this process's temps are gone first
      const rootExists = await this.watched.check()
      return { ...await verifyStore(this.root, this.sharding, options), rootExists }
    })
  }

  pathOf (ref: string): string {
    return this.locate(ref).path
  }

  keyOf (ref: string): string {
    return this.sharding.encode(parseImageRef(ref).sha256)
  }

  /** Waits for the closes and temp removals that stores left running. */
  async close (): Promise<void> {
    await this.settle()
  }

  private async settle (): Promise<void> {
    while (this.settling.size > 0) await Promise.all(this.settling)
  }

  private async counted<T> (work: () => Promise<T>): Promise<T> {
    this.running++
    try {
      return await work()
    } finally {
      this.running--
    }
  }

  private later (work: Promise<void>): void {
    const settled = work.catch(() => {}).finally(() => this.settling.delete(settled))
    this.settling.add(settled)
  }

  private locate (ref: string): { sha256: string, path: string } {
    const { sha256 } = parseImageRef(ref)
    return { sha256, path: join(this.root, this.sharding.encode(sha256)) }
  }

  private async openObject (sha256: string, path: string): Promise<FileHandle> {
    try {
      const handle = await openIfExists(path)
      if (handle === undefined) throw await this.readError(Object.assign(new Error('missing'), { code: 'ENOENT' }), sha256, path)
      return handle
    } catch (err) {
      throw await this.readError(err, sha256, path)
    }
  }

  /** A miss is "not found" only while the root is the one it was: an unmounted store is unavailable. */
  private async readError (err: unknown, sha256: string, path: string): Promise<unknown> {
    if (err instanceof ImageStorageError || (err as Error)?.name === 'AbortError') return err
    if (isMissing(err)) {
      await this.watched.check()
      return new NotFoundError(sha256, path)
    }
    return isUnavailable(err) ? StorageUnavailableError.fromSystemError(err, path) : InvalidInputError.unreadable(path, err)
  }

  private result (digest: Digest, isDuplicate: boolean, storedAt: Date): StorageResult {
    const key = this.sharding.encode(digest.sha256)
    return { hash: digest.sha256, sha256: digest.sha256, key, path: join(this.root, key), size: digest.size, isDuplicate, storedAt, mimeType: digest.mimeType }
  }

  /** OS errors that mean the store cannot be used become `ERR_STORAGE_UNAVAILABLE`. */
  private async guard<T> (work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (err) {
      throw isUnavailable(err) ? StorageUnavailableError.fromSystemError(err, this.root) : err
    }
  }

  private async ensureRoot (): Promise<void> {
    this.ready ??= (async () => {
      if (!await this.watched.check()) await mkdir(dirname(this.root), { recursive: true }) // ours to create
      await this.makeDirs(join(this.root, TEMP_DIR), dirname(this.root))
      await this.watched.require()
    })()
    try {
      await this.ready
    } catch (err) {
      this.ready = undefined // the mount may come back
      throw err
    }
  }

  /** Links the temp to `path` without overwriting: false if the name is taken. */
  private async linkIntoPlace (temp: string, path: string): Promise<boolean> {
    try {
      await this.inShardDir(path, async () => { await link(temp, path) })
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw err
    }
  }

  /**
   * Runs `work` on a file in a shard directory, making the directory only when `work` reports it
   * missing: the steady state costs no extra call.
   */
  private async inShardDir<T> (file: string, work: () => T | Promise<T>): Promise<T> {
    const dir = dirname(file)
    if (!isDirectory(dir)) await this.makeShardDir(dir) // a lookup: microseconds, no failed call first
    try {
      return await work()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      await this.makeShardDir(dir) // removed meanwhile (an empty shard directory pruned)
      return await work()
    }
  }

  private async makeShardDir (dir: string): Promise<void> {
    await this.watched.require() // never a new shard directory on a bare mount point
    await this.makeDirs(dir, this.root)
  }

  /**
   * Creates `dir` and its parents below `base`, one level at a time (Node's recursive mkdir reports
   * ENOENT where the disk said EROFS), with the exact mode (mkdir applies the umask and drops
   * setgid), and fsyncs the parent of each directory made here, so that its name survives a power
   * cut. A directory another writer made is that writer's to make durable (on ext4 and XFS, the
   * fsync of a directory commits its creation too).
   */
  private async makeDirs (dir: string, base: string): Promise<void> {
    const chain: string[] = []
    for (let d = dir; d !== base && d !== dirname(d) && !isDirectory(d); d = dirname(d)) chain.unshift(d)
    for (const d of chain) {
      try {
        await mkdir(d, { mode: this.init.dirMode ?? 0o777 })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue
        throw err
      }
      if (this.init.dirMode !== undefined) await chmod(d, this.init.dirMode)
      if (this.fsync) await fsyncDir(dirname(d))
    }
  }
}

type Digest = ReturnType<ImageHasher['digest']>

export type { VerifyOptions, VerifyReport } from './verify.js'
export { PrefixSharding, type ShardingStrategy } from '../../src/core/sharding.js'
