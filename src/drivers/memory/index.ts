/**
 * The same behaviour as the filesystem driver, in memory: for unit tests of code that stores
 * images (Jest or vitest), with no disk. Keys and paths have the filesystem driver's shape.
 *
 * @example
 * ```ts
 * const storage = new MemoryDriver()
 * const { hash } = await storage.store(jpeg)
 * expect(await storage.fetch(hash)).toEqual(jpeg)
 * ```
 */
import { Readable } from 'node:stream'
import { NotFoundError } from '../../core/errors.js'
import { readAll } from '../../core/hashing.js'
import { readInput, type ImageInput } from '../../core/input.js'
import { resolveLimits, type LimitsInit } from '../../core/limits.js'
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

export interface MemoryDriverInit extends LimitsInit {
  sharding?: ShardingStrategy
}

interface MemoryObject {
  bytes: Buffer
  storedAt: Date
  lastStoredAt: Date
  mimeType: string
}

export class MemoryDriver implements ImageStorage {
  readonly driver = 'memory'
  readonly location = 'memory'
  private readonly objects = new Map<string, MemoryObject>()
  private readonly sharding: ShardingStrategy

  constructor(private readonly init: MemoryDriverInit = {}) {
    this.sharding = init.sharding ?? new PrefixSharding()
  }

  async store(input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    return await traced('store', this.driver, undefined, async () => {
      options.signal?.throwIfAborted()
      const limits = resolveLimits(this.init, options)
      const source = await readInput(input, limits)
      const { bytes, digest } = await readAll(
        'bytes' in source ? { bytes: Buffer.from(source.bytes) } : source,
        limits,
        options.signal
      )
      options.signal?.throwIfAborted()
      const existing = this.objects.get(digest.sha256)
      const now = new Date(Math.max(Date.now(), (existing?.lastStoredAt.getTime() ?? 0) + 1))
      if (existing !== undefined) existing.lastStoredAt = now // a duplicate store renews it, as on disk
      const kept = options.keepTimes // a copy's history (migrate)
      const object = existing ?? {
        bytes,
        storedAt: kept?.storedAt ?? now,
        lastStoredAt: kept?.lastStoredAt ?? now,
        mimeType: digest.mimeType
      }
      this.objects.set(digest.sha256, object)
      const key = this.sharding.encode(digest.sha256)
      return {
        ...digest,
        hash: digest.sha256,
        key,
        path: this.pathOf(digest.sha256),
        isDuplicate: existing !== undefined,
        storedAt: object.storedAt
      }
    })
  }

  async fetch(ref: string, options: AbortOptions = {}): Promise<Buffer> {
    return await traced('fetch', this.driver, ref, async () => Buffer.from(this.get(ref, options).bytes))
  }

  async fetchStream(ref: string, options: AbortOptions = {}): Promise<Readable> {
    return await traced('fetchStream', this.driver, ref, async () =>
      Readable.from([Buffer.from(this.get(ref, options).bytes)], { objectMode: false })
    )
  }

  async exists(ref: string, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    return this.objects.has(parseImageRef(ref).sha256)
  }

  async stat(ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    return await traced('stat', this.driver, ref, async () => {
      const { sha256 } = parseImageRef(ref)
      const object = this.get(ref, options)
      return {
        hash: sha256,
        sha256,
        path: this.pathOf(sha256),
        key: this.keyOf(sha256),
        size: object.bytes.length,
        storedAt: object.storedAt,
        lastStoredAt: object.lastStoredAt,
        mimeType: object.mimeType
      }
    })
  }

  async delete(ref: string, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', this.driver, ref, async () => {
      options.signal?.throwIfAborted()
      return this.objects.delete(parseImageRef(ref).sha256)
    })
  }

  /** Deletes unless stored again since `lastStoredAt`: one synchronous step, so no store can fall between. */
  async deleteIfNotRenewed(ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', this.driver, ref, async () => {
      options.signal?.throwIfAborted()
      const { sha256 } = parseImageRef(ref)
      const object = this.objects.get(sha256)
      if (object === undefined || object.lastStoredAt.getTime() !== lastStoredAt.getTime()) return false
      return this.objects.delete(sha256)
    })
  }

  list(options: ListOptions = {}): AsyncGenerator<ImageEntry> {
    return tracedIterable('list', this.driver, this.entries(options), options)
  }

  pathOf(ref: string): string {
    return `memory://${this.keyOf(ref)}`
  }

  keyOf(ref: string): string {
    return this.sharding.encode(parseImageRef(ref).sha256)
  }

  async close(): Promise<void> {}

  private async *entries(options: ListOptions): AsyncGenerator<ImageEntry> {
    const { prefix = '', after = '' } = options
    for (const sha256 of [...this.objects.keys()]
      .filter(sha256 => sha256.startsWith(prefix) && sha256 > after)
      .sort()) {
      options.signal?.throwIfAborted()
      const object = this.objects.get(sha256)
      if (object !== undefined)
        yield {
          hash: sha256,
          sha256,
          key: this.keyOf(sha256),
          path: this.pathOf(sha256),
          size: object.bytes.length,
          lastStoredAt: object.lastStoredAt
        }
    }
  }

  private get(ref: string, options: AbortOptions): MemoryObject {
    const { sha256 } = parseImageRef(ref)
    options.signal?.throwIfAborted()
    const object = this.objects.get(sha256)
    if (object === undefined) throw new NotFoundError(sha256)
    return object
  }
}
