// A driver written from the public entry `sai-image-storage/adapter` alone, as a user would write
// one: a map from SHA-256 to bytes, and nothing else. The front does every other part, and the
// conformance suite, damage cases included, holds on it.
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { IntegrityError, NotFoundError } from '../../src/index.js'
import {
  placed,
  StorageFront,
  type Digest,
  type StatFields,
  type Stored,
  type StorageAdapter,
  type StoreMarks
} from '../../src/adapter.js'
import type { ImageEntry, ImageStorage, ListOptions } from '../../src/core/types.js'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../src/features/replication/index.js'
import { describeImageStorage, testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'

interface Kept {
  bytes: Buffer
  storedAt: Date
  mimeType: string
}

/** Only what touches the medium: a Map. */
class MapAdapter implements StorageAdapter {
  readonly driver = 'map'
  readonly location = 'map://local'
  readonly objects = new Map<string, Kept>()
  readonly texts = new Map<string, string>()
  /** Marks (a replica's owner): one Map's get and set run without a turn between them, so each write is atomic. */
  readonly marks: StoreMarks = {
    location: 'map://local/marks',
    read: async name => this.texts.get(name),
    create: async (name, text) => !this.texts.has(name) && this.texts.set(name, text) !== undefined,
    swap: async (name, from, text) => this.texts.get(name) === from && this.texts.set(name, text) !== undefined
  }

  place(sha256: string): { hash: string; key: string; url: string } {
    return { hash: sha256, key: sha256, url: `map://${sha256}` }
  }

  /** A duplicate keeps its first store's time; damaged bytes under the name are replaced. */
  async put(bytes: Buffer, digest: Digest): Promise<Stored<string>> {
    const old = this.objects.get(digest.sha256)
    const intact = old?.bytes.equals(bytes) === true
    const kept =
      old !== undefined && intact ? old : { bytes: Buffer.from(bytes), storedAt: new Date(), mimeType: digest.mimeType }
    this.objects.set(digest.sha256, kept)
    return { key: digest.sha256, isDuplicate: intact, storedAt: kept.storedAt }
  }

  async stat(sha256: string): Promise<StatFields<string>> {
    const kept = this.objects.get(sha256)
    if (kept === undefined) throw new NotFoundError(sha256)
    return { sha256, size: kept.bytes.length, storedAt: kept.storedAt, mimeType: kept.mimeType }
  }

  async get(sha256: string): Promise<Buffer> {
    const kept = this.objects.get(sha256)
    if (kept === undefined) throw new NotFoundError(sha256)
    const actual = createHash('sha256').update(kept.bytes).digest('hex')
    if (actual !== sha256) throw new IntegrityError(sha256, actual)
    return Buffer.from(kept.bytes)
  }

  async has(sha256: string): Promise<boolean> {
    return this.objects.has(sha256)
  }

  async delete(sha256: string): Promise<boolean> {
    return this.objects.delete(sha256)
  }

  async *list({ prefix = '', after = '', signal }: ListOptions): AsyncGenerator<ImageEntry> {
    for (const sha256 of [...this.objects.keys()].sort()) {
      signal?.throwIfAborted()
      if (!sha256.startsWith(prefix) || sha256 <= after || !this.objects.has(sha256)) continue
      yield { ...placed(this.place(sha256)), sha256, size: this.objects.get(sha256)!.bytes.length }
    }
  }
}

class MapDriver extends StorageFront {
  constructor(readonly map = new MapAdapter()) {
    super(map, {})
  }
}

describeImageStorage(
  {
    name: 'a driver written on sai-image-storage/adapter',
    create: () => new MapDriver(),
    damage: async (storage: ImageStorage, hash: string, keep: number) => {
      const kept = (storage as MapDriver).map.objects.get(hash)!
      kept.bytes = kept.bytes.subarray(0, keep)
    }
  },
  { describe, it, expect }
)

describe('the front over a user-written adapter', () => {
  it('shapes results, decodes input and checks limits without the adapter doing any of it', async () => {
    const storage = new MapDriver()
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64'
    )
    const result = await storage.store(png.toString('base64'))
    expect(result).toMatchObject({ key: result.sha256, url: `map://${result.sha256}`, mimeType: 'image/png' })
    expect(await storage.fetch(result.hash)).toEqual(png)
    await expect(storage.store(Buffer.from('not an image'))).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' })
    await expect(storage.store(png, { maxBytes: 10 })).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' })
    await expect(storage.fetch('../etc/passwd')).rejects.toMatchObject({ code: 'ERR_INVALID_REF' })
    expect(storage.map.objects.size).toBe(1)
  })

  it('its marks reach the front: a second primary replicating into it is refused, as on fs, S3 and IPFS', async () => {
    const replica = new MapDriver()
    const host = async (): Promise<ReplicatedStorage> =>
      createReplicatedStorage({
        primary: new FilesystemDriver({ root: await tempDir('sai-map-host') }),
        replicas: [{ name: 'map', storage: replica }],
        background: false
      })
    const [a, b] = [await host(), await host()]
    await a.store(testJpeg('map owner'))
    expect(await a.drain()).toMatchObject({ copied: 1 })
    expect(replica.map.texts.has('owner.json')).toBe(true)
    await expect(b.store(testJpeg('map intruder'))).rejects.toMatchObject({ code: 'ERR_CONFIG' })
    await Promise.all([a.close(), b.close()])
  })
})
