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
import type { PutOptions, StatFields, Stored, StorageAdapter } from '../../core/adapter.js'
import { NotFoundError } from '../../core/errors.js'
import { StorageFront, placed } from '../../core/front.js'
import type { Digest } from '../../core/hashing.js'
import type { LimitsInit } from '../../core/input.js'
import { PrefixSharding, type ShardingStrategy } from '../../core/sharding.js'
import type { ImageEntry, ListOptions } from '../../core/types.js'

export interface MemoryDriverInit extends LimitsInit {
  sharding?: ShardingStrategy
}

interface MemoryObject {
  bytes: Buffer
  storedAt: Date
  lastStoredAt: Date
  mimeType: string
}

export class MemoryDriver extends StorageFront {
  declare readonly deleteIfNotRenewed: NonNullable<StorageFront['deleteIfNotRenewed']>

  constructor(init: MemoryDriverInit = {}) {
    super(new MemoryAdapter(init.sharding ?? new PrefixSharding()), init)
  }
}

/** A map from SHA-256 to the object; the front does the rest. */
class MemoryAdapter implements StorageAdapter {
  readonly driver = 'memory'
  readonly location = 'memory'
  private readonly objects = new Map<string, MemoryObject>()

  constructor(private readonly sharding: ShardingStrategy) {}

  place(sha256: string): { hash: string; key: string; url: string } {
    const key = this.sharding.encode(sha256)
    return { hash: sha256, key, url: `memory://${key}` }
  }

  async put(bytes: Buffer, digest: Digest, options: PutOptions): Promise<Stored<string>> {
    const existing = this.objects.get(digest.sha256)
    const now = new Date(Math.max(Date.now(), (existing?.lastStoredAt.getTime() ?? 0) + 1))
    if (existing !== undefined) existing.lastStoredAt = now // a duplicate store renews it, as on disk
    const kept = options.keepTimes // a copy's history (migrate)
    const object = existing ?? {
      bytes: Buffer.from(bytes), // the caller's buffer stays the caller's
      storedAt: kept?.storedAt ?? now,
      lastStoredAt: kept?.lastStoredAt ?? now,
      mimeType: digest.mimeType
    }
    this.objects.set(digest.sha256, object)
    return { key: digest.sha256, isDuplicate: existing !== undefined, storedAt: object.storedAt }
  }

  async get(sha256: string): Promise<Buffer> {
    return Buffer.from(this.object(sha256).bytes)
  }

  async getStream(sha256: string): Promise<Readable> {
    return Readable.from([Buffer.from(this.object(sha256).bytes)], { objectMode: false })
  }

  async has(sha256: string): Promise<boolean> {
    return this.objects.has(sha256)
  }

  async stat(sha256: string): Promise<StatFields<string>> {
    const { bytes, storedAt, lastStoredAt, mimeType } = this.object(sha256)
    return { sha256, size: bytes.length, storedAt, lastStoredAt, mimeType }
  }

  async delete(sha256: string): Promise<boolean> {
    return this.objects.delete(sha256)
  }

  /** Deletes unless stored again since `lastStoredAt`: one synchronous step, so no store can fall between. */
  async deleteIfNotRenewed(sha256: string, lastStoredAt: Date): Promise<boolean> {
    const object = this.objects.get(sha256)
    if (object === undefined || object.lastStoredAt.getTime() !== lastStoredAt.getTime()) return false
    return this.objects.delete(sha256)
  }

  async *list(options: ListOptions): AsyncGenerator<ImageEntry> {
    const { prefix = '', after = '' } = options
    const chosen = [...this.objects.keys()].filter(sha256 => sha256.startsWith(prefix) && sha256 > after)
    for (const sha256 of chosen.sort()) {
      options.signal?.throwIfAborted()
      const object = this.objects.get(sha256)
      if (object === undefined) continue // deleted since the listing began
      yield { ...placed(this.place(sha256)), sha256, size: object.bytes.length, lastStoredAt: object.lastStoredAt }
    }
  }

  private object(sha256: string): MemoryObject {
    const object = this.objects.get(sha256)
    if (object === undefined) throw new NotFoundError(sha256)
    return object
  }
}
