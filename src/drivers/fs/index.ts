/**
 * Stores each image once, at `{root}/{h[0:2]}/{h[2:4]}/{h}.jpg` where h is its SHA-256 hex: the
 * layout the Python service writes, so both can share one store. Durable before `store` resolves
 * (store.ts, write.ts); every read re-hashed; an unmounted root is unavailable, never empty (root.ts).
 *
 * @example
 * ```ts
 * const storage = new FilesystemDriver({ root: '/mnt/raid/images' })
 * const { hash, key, isDuplicate } = await storage.store(jpegBuffer)
 * const bytes = await storage.fetch(hash) // verified
 * ```
 */
import { statSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { addAbortSignal, type Readable } from 'node:stream'
import { Background } from '../../core/background.js'
import { fsyncDir } from '../../core/durable-files.js'
import { isMissing, settingName } from '../../core/errors.js'
import { HashSlices } from '../../core/hashing.js'
import { readInput, type ImageInput } from '../../core/input.js'
import { resolveLimits } from '../../core/limits.js'
import { SNIFF_BYTES, sniffImageType, UNKNOWN_MIME_TYPE } from '../../core/mime.js'
import { parseImageRef } from '../../core/ref.js'
import { PrefixSharding, type ShardingStrategy } from '../../core/sharding.js'
import { traced, tracedIterable } from '../../core/tracing.js'
import type {
  AbortOptions,
  ImageEntry,
  ImageStat,
  ImageStorage,
  ListOptions,
  StorageResult,
  StoreOptions
} from '../../core/types.js'
import { verifiedStream } from '../../core/verified-stream.js'
import type { VerifyOptions, VerifyReport } from '../../core/verify-report.js'
import { StoreDirs } from './dirs.js'
import { DEFAULT_ROOT, type FilesystemDriverInit } from './init.js'
import { listEntries } from './listing.js'
import { ObjectFiles } from './objects.js'
import { FilesystemQuarantine } from './quarantine.js'
import { StoreLayout } from './layout.js'
import { StoreRoot } from './root.js'
import { chooseReads, firstStored, ObjectReader, type ReadStrategy } from './read.js'
import { SetAside } from './set-aside.js'
import { FrameStore } from './store.js'
import { verifyStore } from './verify.js'

export { DEFAULT_ROOT, type FilesystemDriverInit } from './init.js'

export class FilesystemDriver implements ImageStorage {
  readonly driver = 'fs'
  readonly root: string
  readonly sharding: ShardingStrategy
  readonly quarantine: FilesystemQuarantine
  private readonly init: FilesystemDriverInit
  private readonly fsync: boolean
  private readonly watched: StoreRoot
  private readonly layout: StoreLayout
  /** Closes and temp removals that nothing waits for; `close`, `list` and `verify` wait for them. */
  private readonly background: Background
  private readonly files: ObjectFiles
  /** How objects are read (chosen once, read.ts); every store and fetch runs through it. */
  private readonly reads: ReadStrategy
  private readonly reader: ObjectReader
  private readonly frames: FrameStore
  private readonly setAside: SetAside

  constructor(init: FilesystemDriverInit = {}) {
    this.init = init
    this.root = resolve(init.root ?? DEFAULT_ROOT)
    this.sharding = init.sharding ?? new PrefixSharding()
    this.fsync = init.fsync ?? true
    this.watched = new StoreRoot(this.root, init)
    this.background = new Background(init.logger)
    this.layout = new StoreLayout(this.root, this.sharding, this.setting('sharding'))
    const dirs = new StoreDirs(this.watched, { dirMode: init.dirMode, fsync: this.fsync, layout: this.layout })
    this.quarantine = new FilesystemQuarantine(this.root, this.sharding, dirs, this.fsync)
    this.files = new ObjectFiles(this.root, this.sharding, this.watched, this.quarantine, this.layout)
    const slices = new HashSlices()
    this.reads = chooseReads()
    this.reader = new ObjectReader(this.reads, slices)
    const { root, fsync, background, reader } = this
    this.frames = new FrameStore({
      root,
      fsync,
      fileMode: init.fileMode,
      dirs,
      background,
      sharding: this.sharding,
      reader,
      slices
    })
    this.setAside = new SetAside(this.root, dirs, this.fsync)
  }

  get location(): string {
    return this.root
  }

  async store(input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    return await traced('store', this.driver, undefined, async () => {
      options.signal?.throwIfAborted()
      this.layout.check()
      const limits = resolveLimits(this.init, options)
      const source = await readInput(input, limits)
      const call = { limits, signal: options.signal, mtime: options.keepTimes?.lastStoredAt }
      const { digest, key, path, isDuplicate, storedAt } = await this.reads.during(
        async () =>
          await this.files.guard(async () =>
            'bytes' in source
              ? await this.frames.storeBytes(source.bytes, call)
              : await this.frames.storeChunks(source.chunks, call)
          )
      )
      return {
        hash: digest.sha256,
        sha256: digest.sha256,
        key,
        path,
        size: digest.size,
        isDuplicate,
        storedAt,
        mimeType: digest.mimeType
      }
    })
  }

  async fetch(ref: string, options: AbortOptions = {}): Promise<Buffer> {
    return await traced('fetch', this.driver, ref, async () => {
      const { sha256, path } = this.files.locate(ref)
      return await this.reads.during(async () => {
        try {
          options.signal?.throwIfAborted()
          return await this.reader.fetch(path, sha256)
        } catch (err) {
          throw this.files.readError(err, sha256, path)
        }
      })
    })
  }

  async fetchStream(ref: string, options: AbortOptions = {}): Promise<Readable> {
    return await traced('fetchStream', this.driver, ref, async () => {
      const { sha256, path } = this.files.locate(ref)
      options.signal?.throwIfAborted()
      const handle = await this.files.open(sha256, path)
      const verify = verifiedStream(handle.createReadStream(), sha256, path)
      return options.signal === undefined ? verify : addAbortSignal(options.signal, verify)
    })
  }

  /** Whether a file is under the name (damaged or not: `fetch` and `verify` judge the bytes). */
  async exists(ref: string, options: AbortOptions = {}): Promise<boolean> {
    const { sha256, path } = this.files.locate(ref)
    options.signal?.throwIfAborted()
    try {
      return statSync(path).isFile()
    } catch (err) {
      if (!isMissing(err)) throw this.files.readError(err, sha256, path)
      this.watched.check() // an unmounted store is unavailable, not empty
      return false
    }
  }

  async stat(ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    return await traced('stat', this.driver, ref, async () => {
      const { sha256, path } = this.files.locate(ref)
      options.signal?.throwIfAborted()
      const handle = await this.files.open(sha256, path)
      try {
        const stats = await handle.stat()
        const { buffer: head, bytesRead } = await handle.read(Buffer.alloc(SNIFF_BYTES), 0, SNIFF_BYTES, 0)
        const mimeType = sniffImageType(head.subarray(0, bytesRead)) ?? UNKNOWN_MIME_TYPE
        return {
          hash: sha256,
          sha256,
          path,
          key: this.sharding.encode(sha256),
          size: stats.size,
          storedAt: firstStored(stats),
          lastStoredAt: stats.mtime,
          mimeType
        }
      } finally {
        await handle.close()
      }
    })
  }

  async delete(ref: string, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', this.driver, ref, async () => {
      const { path } = this.files.locate(ref)
      options.signal?.throwIfAborted()
      return await this.files.guard(async () => {
        try {
          await unlink(path)
        } catch (err) {
          if (!isMissing(err)) throw err
          this.watched.check() // unmounted: unavailable, not empty
          return false
        }
        if (this.fsync) await fsyncDir(dirname(path))
        return true
      })
    })
  }

  /** Every object, in SHA-256 order, with its size and mtime from the walk (walk.ts). */
  list(options: ListOptions = {}): AsyncGenerator<ImageEntry> {
    const ready = async (): Promise<boolean> => {
      await this.background.settle()
      return this.watched.check() && (this.layout.checkWhole() ?? true)
    }
    return tracedIterable('list', this.driver, listEntries(this.root, this.sharding, options, ready), options)
  }

  /** Deletes the object unless a store renewed it after `lastStoredAt`: see set-aside.ts. */
  async deleteIfNotRenewed(ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', this.driver, ref, async () => {
      const { sha256, path } = this.files.locate(ref)
      options.signal?.throwIfAborted()
      return await this.files.guard(async () => {
        const deleted = await this.setAside.deleteIfNotRenewed(path, sha256, lastStoredAt)
        if (!deleted) this.watched.check() // a miss on an unmounted store is no "gone already"
        return deleted
      })
    })
  }

  /**
   * The fsck to run after a crash: re-hashes every object (or a subset), finds corrupt, truncated
   * and misnamed files and stray temps; with `repair`, quarantines the bad and removes the strays.
   */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    return await traced(
      'verify',
      this.driver,
      undefined,
      async () =>
        await this.files.guard(async () => {
          await this.background.settle() // this process's temps are gone first
          const rootExists = this.watched.check() && (this.layout.checkWhole() ?? true)
          return { ...(await verifyStore(this.root, this.sharding, this.quarantine, options)), rootExists }
        }),
      undefined,
      { repair: options.repair === true }
    )
  }

  pathOf(ref: string): string {
    return this.files.locate(ref).path
  }

  keyOf(ref: string): string {
    return this.sharding.encode(parseImageRef(ref).sha256)
  }

  /** Waits for the closes and temp removals that stores left running. */
  async close(): Promise<void> {
    await this.background.settle()
  }

  private setting(option: 'root' | 'createRoot' | 'sharding'): string {
    return settingName(this.init.settingNames, option)
  }
}

export type { VerifyOptions, VerifyReport } from '../../core/verify-report.js'
export type { Quarantine, QuarantineEntry } from '../../core/types.js'
export {
  PrefixSharding,
  type PrefixShardingInit,
  type ShardingDescriptor,
  type ShardingStrategy
} from '../../core/sharding.js'
