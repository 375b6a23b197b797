/**
 * What a driver writes: only what touches its medium, keyed by what it stores (the SHA-256 hex, or
 * a key of its own: IPFS keys by CID). The front (front.ts) does the rest once, for every driver:
 * ref parsing, abort checks, limits, input decoding, tracing and the results' shape. A method left
 * out is a capability the driver does not have (the front offers no `verify` without one).
 *
 * @example
 * ```ts
 * const adapter: StorageAdapter = {
 *   driver: 'kv', location: 'kv://local',
 *   place: sha256 => ({ hash: sha256, key: sha256, url: `kv://${sha256}` }),
 *   put: async (bytes, digest) => ({ key: digest.sha256, ...(await kv.putIfAbsent(digest.sha256, bytes)) }),
 *   get: async sha256 => verified(sha256, (await kv.get(sha256)) ?? notFound(sha256)),
 *   has: async sha256 => await kv.has(sha256),
 *   stat: async sha256 => await kv.stat(sha256),
 *   delete: async sha256 => await kv.delete(sha256),
 *   list: options => kv.entries(options)
 * }
 * const storage = new StorageFront(adapter, { maxBytes: 10_000_000 })
 * ```
 */
import type { Readable } from 'node:stream'
import type { Digest } from './hashing.js'
import type { ImageSource, InputLimits } from './input.js'
import type { ImageEntry, ImageStat, ListOptions, Quarantine, StoreOptions } from './types.js'
import type { StoreMarks } from './marks.js'
import type { VerifyOptions, VerifyReport } from './verify-report.js'

/** Where an object is: `path` for a local file, `url` for anything else (`s3://…`, `ipfs://…`). */
export interface Place {
  /** The driver's address of the object: the SHA-256 hex, or the CID on IPFS. */
  hash: string
  /** Relative to the store's root: what a database keeps. */
  key: string
  path?: string
  url?: string
}

/** What a put did; `key` is the stored object's, which the front turns into a place. */
export interface Stored<K> {
  key: K
  isDuplicate: boolean
  storedAt: Date
}

export interface PutOptions {
  signal?: AbortSignal
  keepTimes?: StoreOptions['keepTimes']
}

/** What a stat found, beside where the object is (the front adds hash, key and path or url). */
export type StatFields<K> = Omit<ImageStat, 'hash' | 'key' | 'path' | 'url'> & {
  /** The object's key where it is not the ref's (IPFS: a SHA-256 resolved to a file's CID). */
  key?: K
}

export interface StorageAdapter<K = string> {
  /** Which driver this is: `fs`, `s3`... */
  readonly driver: string
  /** Where the store is, safe to print (never a credential). */
  readonly location: string
  /** Parses a ref into the adapter's key (throws `ERR_INVALID_REF`). Default: its SHA-256 hex. */
  key?: (ref: string) => K
  place: (key: K) => Place
  /**
   * Stores bytes the front has read, hashed and sniffed; resolves once they are durable. A driver
   * that stores as the input streams has `putSource` instead.
   */
  put?: (bytes: Buffer, digest: Digest, options: PutOptions) => Promise<Stored<K>>
  /**
   * The verified bytes, or `ERR_NOT_FOUND`. A driver that reads them whole before hashing may hand
   * them to `onUnverified` first (see `FetchOptions`), and then resolves with that very Buffer.
   */
  get: (key: K, signal?: AbortSignal, onUnverified?: (bytes: Buffer) => void) => Promise<Buffer>
  /** Whether an object is stored under the key, damaged or not. */
  has: (key: K, signal?: AbortSignal) => Promise<boolean>
  /**
   * What is stored under the key, damaged or not (an empty or truncated object has its own size; `get` and
   * `verify` judge the bytes), or `ERR_NOT_FOUND`.
   */
  stat: (key: K, signal?: AbortSignal) => Promise<StatFields<K>>
  /** True if an object was removed. */
  delete: (key: K, signal?: AbortSignal) => Promise<boolean>
  /** Every object, in SHA-256 order (see `ImageStorage.list`). */
  list: (options: ListOptions) => AsyncGenerator<ImageEntry>

  // Optional capabilities.

  /** Runs before a store reads its input (a check of the layout, of the node). */
  prepare?: () => void
  /** Stores the input as it streams, hashing on the way (instead of `put` after reading it whole). */
  putSource?: (source: ImageSource, limits: InputLimits, options: PutOptions) => Promise<Stored<K> & { digest: Digest }>
  /** The server checks the SHA-256 on arrival: `storeKnown` puts known bytes without hashing them. */
  checksSha256OnArrival?: boolean
  /** `put` is handed the SHA-256 of the input's first bytes too (`digest.prefixSha256`), from the same pass. */
  prefixBytes?: number
  /** A stream that errors with `ERR_INTEGRITY` at its end if the bytes do not match. Default: `get`'s bytes. */
  getStream?: (key: K, signal?: AbortSignal) => Promise<Readable>
  deleteIfNotRenewed?: (key: K, lastStoredAt: Date, signal?: AbortSignal) => Promise<boolean>
  verify?: (options: VerifyOptions) => Promise<VerifyReport>
  url?: (key: K, options: { expiresIn?: number }) => string | Promise<string>
  readonly quarantine?: Quarantine
  /** Small named texts beside the objects, with atomic create and compare-and-swap (core/marks.ts). */
  readonly marks?: StoreMarks
  readonly root?: string
  close?: () => Promise<void>
}
