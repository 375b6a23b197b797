/**
 * The one front door of every driver, as flystorage's `FileStorage` over its adapters: it parses
 * refs, checks aborts, resolves limits, decodes input, traces, and shapes every result, once. A
 * driver is a `StorageAdapter` (adapter.ts) and, for its users, a subclass that names it
 * (`FilesystemDriver`...). An optional capability is here only if the adapter has it.
 *
 * @example
 * ```ts
 * class KvDriver extends StorageFront { constructor () { super(new KvAdapter(), {}) } }
 * const { hash, url } = await new KvDriver().store(jpeg)
 * ```
 */
import { Readable } from 'node:stream'
import type { Place, Stored, StorageAdapter } from './adapter.js'
import { checkSubset, checkWhole, listPrefix } from './checks.js'
import type { StoreMarks } from './marks.js'
import { digestKnown, readAll, type Digest } from './hashing.js'
import { readInput, resolveLimits, type ImageInput, type LimitsInit } from './input.js'
import { parseImageRef } from './ref.js'
import { traced, tracedIterable } from './tracing.js'
import type {
  AbortOptions,
  FetchOptions,
  ImageEntry,
  ImageStat,
  ImageStorage,
  ListOptions,
  Quarantine,
  StorageResult,
  StoreOptions
} from './types.js'
import type { VerifyOptions, VerifyReport } from './verify-report.js'

/** Where an object is, as results say it: `path` for a file; elsewhere `url`, and `path` its deprecated alias. */
export function placed(place: Place): { hash: string; key: string; path: string; url?: string } {
  const { hash, key, path, url } = place
  return url === undefined ? { hash, key, path: path ?? '' } : { hash, key, path: url, url }
}

export class StorageFront<K = string> implements ImageStorage {
  readonly driver: string
  readonly location: string
  // the capabilities: own properties only where the adapter has them (a feature asks `!== undefined`)
  declare readonly root?: string
  declare readonly quarantine?: Quarantine
  /** The adapter's marks, if it keeps any (core/marks.ts): replication checks a replica's owner there. */
  declare readonly marks?: StoreMarks
  declare readonly storeKnown?: (bytes: Buffer, sha256: string, options?: StoreOptions) => Promise<StorageResult>
  declare readonly deleteIfNotRenewed?: (ref: string, lastStoredAt: Date, options?: AbortOptions) => Promise<boolean>
  declare readonly verify?: (options?: VerifyOptions) => Promise<VerifyReport>
  declare readonly url?: (ref: string, options?: { expiresIn?: number }) => string | Promise<string>
  protected readonly adapter: StorageAdapter<K>
  private readonly limits: LimitsInit
  private readonly key: (ref: string) => K

  constructor(adapter: StorageAdapter<K>, limits: LimitsInit) {
    this.adapter = adapter
    const { maxBytes } = limits
    checkWhole('maxBytes', maxBytes, { of: 'bytes' }) // NaN would lift the limit, 0 or -1 refuse every store
    this.limits = { maxBytes, allowNonImage: limits.allowNonImage }
    this.driver = adapter.driver
    this.location = adapter.location
    this.key = adapter.key?.bind(adapter) ?? (ref => parseImageRef(ref).sha256 as unknown as K)
    if (adapter.root !== undefined) this.root = adapter.root
    if (adapter.quarantine !== undefined) this.quarantine = adapter.quarantine
    if (adapter.marks !== undefined) this.marks = adapter.marks
    if (adapter.checksSha256OnArrival === true && adapter.put !== undefined) this.storeKnown = this.putKnown.bind(this)
    if (adapter.deleteIfNotRenewed !== undefined) this.deleteIfNotRenewed = this.deleteUnlessRenewed.bind(this)
    if (adapter.verify !== undefined) this.verify = this.check.bind(this)
    if (adapter.url !== undefined) this.url = (ref, options = {}) => adapter.url!(this.key(ref), options)
  }

  async store(input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    return await traced('store', { driver: this.driver }, async () => {
      const { signal, keepTimes } = options
      signal?.throwIfAborted()
      this.adapter.prepare?.()
      const limits = resolveLimits(this.limits, options)
      const source = await readInput(input, limits)
      if (this.adapter.putSource !== undefined) {
        const stored = await this.adapter.putSource(source, limits, { signal, keepTimes })
        return this.result(stored.digest, stored)
      }
      const { bytes, digest } = await readAll(source, limits, signal, this.adapter.prefixBytes)
      signal?.throwIfAborted()
      return this.result(digest, await this.adapter.put!(bytes, digest, { signal, keepTimes }))
    })
  }

  /** Bytes whose SHA-256 the caller verified: the server checks it on arrival, nothing hashes them here. */
  private async putKnown(bytes: Buffer, sha256: string, options: StoreOptions = {}): Promise<StorageResult> {
    return await traced('store', { driver: this.driver, ref: sha256 }, async () => {
      const { signal, keepTimes } = options
      signal?.throwIfAborted()
      const digest = digestKnown(bytes, sha256, resolveLimits(this.limits, options))
      return this.result(digest, await this.adapter.put!(bytes, digest, { signal, keepTimes }))
    })
  }

  async fetch(ref: string, options: FetchOptions = {}): Promise<Buffer> {
    return await traced('fetch', { driver: this.driver, ref }, async () => {
      const key = this.key(ref)
      options.signal?.throwIfAborted()
      return await this.adapter.get(key, options.signal, options.onUnverified)
    })
  }

  async fetchStream(ref: string, options: AbortOptions = {}): Promise<Readable> {
    return await traced('fetchStream', { driver: this.driver, ref }, async () => {
      const key = this.key(ref)
      options.signal?.throwIfAborted()
      if (this.adapter.getStream !== undefined) return await this.adapter.getStream(key, options.signal)
      return Readable.from([await this.fetch(ref, options)])
    })
  }

  /** Whether an object is stored under the ref, damaged or not (`fetch` and `verify` judge the bytes). */
  async exists(ref: string, options: AbortOptions = {}): Promise<boolean> {
    const key = this.key(ref)
    options.signal?.throwIfAborted()
    return await this.adapter.has(key, options.signal)
  }

  async stat(ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    return await traced('stat', { driver: this.driver, ref }, async () => {
      const key = this.key(ref)
      options.signal?.throwIfAborted()
      const { key: found, ...fields } = await this.adapter.stat(key, options.signal)
      const { hash, key: name, path, url } = placed(this.adapter.place(found ?? key))
      // the fields in the order the CLI prints them (and always did): hash, sha256, path, key, size...
      return { hash, sha256: fields.sha256, path, ...(url === undefined ? {} : { url }), key: name, ...fields }
    })
  }

  async delete(ref: string, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', { driver: this.driver, ref }, async () => {
      const key = this.key(ref)
      options.signal?.throwIfAborted()
      return await this.adapter.delete(key, options.signal)
    })
  }

  private async deleteUnlessRenewed(ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', { driver: this.driver, ref }, async () => {
      const key = this.key(ref)
      options.signal?.throwIfAborted()
      return await this.adapter.deleteIfNotRenewed!(key, lastStoredAt, options.signal)
    })
  }

  list(options: ListOptions = {}): AsyncGenerator<ImageEntry> {
    let prefix: string | undefined
    try {
      prefix = listPrefix(options.prefix)
    } catch (err) {
      return failing(err) // at the first step, as any listing's failure: not when list() is called
    }
    const listed = prefix === options.prefix ? options : { ...options, prefix }
    return tracedIterable('list', this.driver, this.adapter.list(listed), options)
  }

  private async check(options: VerifyOptions = {}): Promise<VerifyReport> {
    checkSubset(options.subset)
    const fields = { repair: options.repair === true }
    return await traced('verify', { driver: this.driver, fields }, async () => await this.adapter.verify!(options))
  }

  /** Where the object for `ref` is (or would be): the absolute path of a file, or a URL. */
  pathOf(ref: string): string {
    return placed(this.adapter.place(this.key(ref))).path
  }

  /** `pathOf` relative to the root. */
  keyOf(ref: string): string {
    return this.adapter.place(this.key(ref)).key
  }

  async close(): Promise<void> {
    await this.adapter.close?.()
  }

  private result(digest: Digest, stored: Stored<K>): StorageResult {
    const { sha256, size, mimeType } = digest
    const { isDuplicate, storedAt } = stored
    const { hash, key, path, url } = placed(this.adapter.place(stored.key))
    const where = url === undefined ? { key, path } : { key, path, url }
    return { hash, sha256, ...where, size, isDuplicate, storedAt, mimeType }
  }
}

// biome-ignore lint/correctness/useYield: a listing that fails at its first step, and yields nothing
async function* failing(err: unknown): AsyncGenerator<never> {
  throw err
}
