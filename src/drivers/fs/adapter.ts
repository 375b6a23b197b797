/**
 * What the filesystem driver does on disk, under the front (core/front.ts): each call goes to the
 * module that owns it (store.ts and write.ts, read.ts, set-aside.ts, verify.ts, listing.ts). A store
 * of a new frame crosses front, input and hashing, this file, store.ts, sharding and write.ts:
 * test/drivers/fs/path-files.test.ts measures it.
 */
import { closeSync, createReadStream, readSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { addAbortSignal, type Readable } from 'node:stream'
import type { PutOptions, StatFields, StorageAdapter, Stored } from '../../core/adapter.js'
import { isMissing, isUnavailable } from '../../core/errors.js'
import { failureFields, log, type Logger } from '../../core/logger.js'
import { HashSlices, type Digest } from '../../core/hashing.js'
import { type ImageSource, type InputLimits, SNIFF_BYTES, sniffImageType, UNKNOWN_MIME_TYPE } from '../../core/input.js'
import { parseImageRef } from '../../core/ref.js'
import type { ShardingStrategy } from '../../core/sharding.js'
import type { ImageEntry, ListOptions } from '../../core/types.js'
import { verifiedStream } from '../../core/verified-stream.js'
import type { VerifyOptions, VerifyReport } from '../../core/verify-report.js'
import { fsyncDir, type StoreDirs } from './write.js'
import type { FilesystemDriverInit } from './init.js'
import { listEntries } from './listing.js'
import { ObjectFiles } from './objects.js'
import type { FilesystemQuarantine } from './quarantine.js'
import type { StoreLayout } from './layout.js'
import { chooseReads, firstStored, ObjectReader, type ReadStrategy } from './read.js'
import { SetAside } from './set-aside.js'
import { FrameStore, type StoreRoot } from './store.js'
import { storeChunks } from './stream.js'
import { verifyStore } from './verify.js'

/** An object's file: its SHA-256, its key under the root and its absolute path. */
export interface ObjectFile {
  sha256: string
  key: string
  path: string
}

/** The parts the driver built (index.ts), shared with the adapter. */
export interface FilesystemParts {
  root: string
  sharding: ShardingStrategy
  fsync: boolean
  watched: StoreRoot
  layout: StoreLayout
  dirs: StoreDirs
  quarantine: FilesystemQuarantine
}

type Put = Stored<ObjectFile> & { digest: Digest }

export class FilesystemAdapter implements StorageAdapter<ObjectFile> {
  readonly driver = 'fs'
  readonly location: string
  readonly root: string
  readonly quarantine: FilesystemQuarantine
  private readonly files: ObjectFiles
  /** How objects are read (chosen once, read.ts); every store and fetch runs through it. */
  private readonly reads: ReadStrategy
  private readonly reader: ObjectReader
  private readonly frames: FrameStore
  private readonly setAside: SetAside
  /** Stores and fetches running now: the read strategy reads differently for one that runs alone. */
  private running = 0
  /** Closes and temp removals that stores left running (write.ts): `close`, `list` and `verify` wait for them. */
  private readonly leftovers = new Set<Promise<void>>()
  private readonly logger?: Logger

  constructor(
    private readonly parts: FilesystemParts,
    init: FilesystemDriverInit
  ) {
    const { root, sharding, watched, quarantine, layout } = parts
    this.location = this.root = root
    this.quarantine = quarantine
    this.files = new ObjectFiles(root, sharding, watched, quarantine, layout)
    const { fsync, dirs } = parts
    const slices = new HashSlices()
    this.reads = chooseReads(() => this.running === 1)
    this.reader = new ObjectReader(this.reads, slices)
    const reader = this.reader
    this.logger = init.logger
    const later = this.later.bind(this)
    this.frames = new FrameStore({ root, fsync, fileMode: init.fileMode, dirs, later, sharding, reader, slices })
    this.setAside = new SetAside(root, dirs, fsync)
  }

  key(ref: string): ObjectFile {
    this.prepare()
    return this.file(parseImageRef(ref).sha256)
  }

  place({ sha256, key, path }: ObjectFile): { hash: string; key: string; path: string } {
    return { hash: sha256, key, path }
  }

  /** The first call of a process whose settings are not the store's is ERR_CONFIG (layout.ts): checked once. */
  prepare(): void {
    if (!this.parts.layout.checked) this.parts.layout.check()
  }

  async putSource(source: ImageSource, limits: InputLimits, options: PutOptions): Promise<Put> {
    const call = { limits, signal: options.signal, mtime: options.keepTimes?.lastStoredAt }
    const { digest, key, path, isDuplicate, storedAt } = await this.counted(
      () =>
        'bytes' in source ? this.frames.storeBytes(source.bytes, call) : storeChunks(this.frames, source.chunks, call),
      true
    )
    return { digest, key: { sha256: digest.sha256, key, path }, isDuplicate, storedAt }
  }

  async get(
    { sha256, path }: ObjectFile,
    signal?: AbortSignal,
    onUnverified?: (bytes: Buffer) => void
  ): Promise<Buffer> {
    return await this.counted(async () => {
      try {
        signal?.throwIfAborted()
        return await this.reader.fetch(path, sha256, onUnverified)
      } catch (err) {
        throw this.files.readError(err, sha256, path)
      }
    })
  }

  async getStream({ sha256, path }: ObjectFile, signal?: AbortSignal): Promise<Readable> {
    const { fd } = this.files.open(sha256, path)
    const verify = verifiedStream(createReadStream('', { fd, start: 0 }), sha256, path)
    return signal === undefined ? verify : addAbortSignal(signal, verify)
  }

  /** Whether a file is under the name (damaged or not: `fetch` and `verify` judge the bytes): `ObjectFiles.entry`. */
  async has({ sha256, path }: ObjectFile): Promise<boolean> {
    return this.files.entry(sha256, path)?.isFile() === true
  }

  async stat({ sha256, path }: ObjectFile): Promise<StatFields<ObjectFile>> {
    const { fd, stats } = this.files.open(sha256, path)
    try {
      const head = Buffer.alloc(SNIFF_BYTES)
      const mimeType = sniffImageType(head.subarray(0, readSync(fd, head, 0, SNIFF_BYTES, 0))) ?? UNKNOWN_MIME_TYPE
      return { sha256, size: stats.size, storedAt: firstStored(stats), lastStoredAt: stats.mtime, mimeType }
    } catch (err) {
      throw this.files.readError(err, sha256, path)
    } finally {
      closeSync(fd)
    }
  }

  async delete({ sha256, path }: ObjectFile): Promise<boolean> {
    return await this.guard(async () => {
      try {
        if (this.files.entry(sha256, path) === undefined) return false // (a folder or a link there: not ours to delete)
        await unlink(path)
      } catch (err) {
        if (!isMissing(err)) throw err
        this.parts.watched.check() // unmounted: unavailable, not empty
        return false
      }
      if (this.parts.fsync) await fsyncDir(dirname(path))
      return true
    })
  }

  /** Deletes the object unless a store renewed it after `lastStoredAt`: see set-aside.ts. */
  async deleteIfNotRenewed({ sha256, path }: ObjectFile, lastStoredAt: Date): Promise<boolean> {
    return await this.guard(async () => {
      const deleted = await this.setAside.deleteIfNotRenewed(path, sha256, lastStoredAt)
      if (!deleted) this.parts.watched.check() // a miss on an unmounted store is no "gone already"
      return deleted
    })
  }

  /** Every object, in SHA-256 order, with its size and mtime from the walk (walk.ts). */
  list(options: ListOptions): AsyncGenerator<ImageEntry> {
    const ready = async (): Promise<boolean> => {
      await this.settle() // this process's temps are gone first
      return this.parts.watched.check() && (this.parts.layout.checkWhole() ?? true)
    }
    return listEntries(this.root, this.parts.sharding, options, ready, err => this.unusable(err))
  }

  /**
   * The fsck to run after a crash: re-hashes every object (or a subset), finds corrupt, truncated
   * and misnamed files and stray temps; with `repair`, quarantines the bad and removes the strays.
   */
  async verify(options: VerifyOptions): Promise<VerifyReport> {
    return await this.guard(async () => {
      await this.settle() // this process's temps are gone first
      const { root, sharding, watched, layout } = this.parts
      const rootExists = watched.check() && (layout.checkWhole() ?? true)
      return { ...(await verifyStore(root, sharding, this.quarantine, this.parts.dirs, options)), rootExists }
    })
  }

  /** Waits for the closes and temp removals that stores left running. */
  async close(): Promise<void> {
    await this.settle()
  }

  /** Runs one store or fetch, counted (see `running`); `guarded`: as `guard` too (one layer a store, not two). */
  private async counted<T>(work: () => Promise<T>, guarded = false): Promise<T> {
    this.running++
    try {
      return await work()
    } catch (err) {
      throw guarded ? this.unusable(err) : err
    } finally {
      this.running--
    }
  }

  /** OS errors that mean the store cannot be used become `ERR_STORAGE_UNAVAILABLE`. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (err) {
      throw this.unusable(err)
    }
  }

  private unusable(err: unknown): unknown {
    if (!isUnavailable(err)) return err
    // a folder named as a frame: that entry is what to fix, not the root
    return this.parts.watched.failure(
      err,
      err.code === 'EISDIR' ? ((err as { dest?: string }).dest ?? err.path) : undefined
    )
  }

  /**
   * Runs `work` on without a wait, logging a failure at warn once (core/background.ts does the same
   * for the features; here it is the driver's own, so that a store's path crosses no helper file).
   */
  private later(work: Promise<unknown> | (() => void), event: string, path: string): void {
    if (typeof work === 'function') {
      try {
        work() // without fsync, a call of microseconds: made now, no promise to track (a file gone is no failure)
      } catch (err) {
        if (!isMissing(err)) this.failed(err, event, path)
      }
      return
    }
    const task: Promise<void> = work
      .then(
        () => {},
        err => this.failed(err, event, path)
      )
      .finally(() => this.leftovers.delete(task))
    this.leftovers.add(task)
  }

  private failed(err: unknown, event: string, path: string): void {
    log(this.logger, 'warn', { event, path, ...failureFields(err) }, `${event}: ${(err as Error)?.message ?? err}`)
  }

  private async settle(): Promise<void> {
    while (this.leftovers.size > 0) await Promise.all(this.leftovers)
  }

  private file(sha256: string): ObjectFile {
    const key = this.parts.sharding.encode(sha256)
    return { sha256, key, path: join(this.root, key) }
  }
}
