import type { Readable } from 'node:stream'
import type { ImageInput } from './input.js'

export interface AbortOptions {
  signal?: AbortSignal
}

export interface StoreOptions extends AbortOptions {
  /** Rejects larger input with `ERR_TOO_LARGE`, while it streams. Default: the driver's (50 MB). */
  maxBytes?: number
  /** Stores bytes that are not a recognised image instead of rejecting them. Default: the driver's (false). */
  allowNonImage?: boolean
}

/** What `store` tells about the stored object. */
export interface StorageResult {
  /** The driver's address: SHA-256 hex for fs and memory, the CID for IPFS. */
  hash: string
  /** Absolute path (fs), or the driver's URL (`ipfs://<cid>`). */
  path: string
  /** Path relative to the store's root: what a database keeps. */
  key: string
  size: number
  /** True when the store already held these bytes, intact, and nothing was written. */
  isDuplicate: boolean
  /** When the object was first stored (for a duplicate: the earlier time, where the driver knows it). */
  storedAt: Date
  /** SHA-256 hex of the bytes, whatever the driver. */
  sha256: string
  /** Sniffed from the bytes; `application/octet-stream` for non-images stored with `allowNonImage`. */
  mimeType: string
}

export interface ImageStat {
  hash: string
  /** Undefined where the address does not hold it (an IPFS object over 1 MiB). */
  sha256?: string
  path: string
  key: string
  size: number
  /** When the object was first stored; undefined where the driver does not know. */
  storedAt?: Date
  /**
   * When it was last stored: a duplicate store renews it (fs: the file's mtime). Retention ages
   * objects by it. Undefined where the driver does not know.
   */
  lastStoredAt?: Date
  mimeType: string
}

export interface ImageEntry {
  hash: string
  /** Undefined where the address does not hold it (an IPFS object over 1 MiB). */
  sha256?: string
  path: string
  key: string
}

/**
 * A content-addressed image store. Refs are the `hash` of a result, or for sha256-addressed
 * drivers the SHA-256 hex or the equivalent CIDv1 (see `parseImageRef`).
 */
export interface ImageStorage {
  /** Which driver this is: `fs`, `memory`, `ipfs`. */
  readonly driver: string
  /** Resolves only once the bytes are durable. */
  store: (input: ImageInput, options?: StoreOptions) => Promise<StorageResult>
  /** The verified bytes; `ERR_NOT_FOUND` if absent, `ERR_INTEGRITY` if they no longer match the ref. */
  fetch: (ref: string, options?: AbortOptions) => Promise<Buffer>
  /** A stream of the bytes that errors with `ERR_INTEGRITY` at its end if they do not match; it never delivers all of wrong bytes. */
  fetchStream: (ref: string, options?: AbortOptions) => Promise<Readable>
  exists: (ref: string, options?: AbortOptions) => Promise<boolean>
  stat: (ref: string, options?: AbortOptions) => Promise<ImageStat>
  /** True if an object was removed, false if there was none. */
  delete: (ref: string, options?: AbortOptions) => Promise<boolean>
  /** Every stored object, streamed: the whole tree is never held in memory. */
  list: (options?: AbortOptions) => AsyncIterable<ImageEntry>
  /** Where the object for `ref` is (or would be): absolute path or URL. */
  pathOf: (ref: string) => string
  /**
   * Deletes the object only if it was not stored again since `lastStoredAt` (as `stat` gave it):
   * true if it was deleted. Drivers that have it make `prune` safe against concurrent stores.
   */
  deleteIfNotRenewed?: (ref: string, lastStoredAt: Date, options?: AbortOptions) => Promise<boolean>
  /** `pathOf` relative to the root. */
  keyOf: (ref: string) => string
  close: () => Promise<void>
}

/**
 * The two fields the inference service adds to its response: `image_hash` is always the SHA-256
 * hex of the bytes (the dashboard accepts exactly 64 hex characters), whatever the driver's own
 * address; `image_path` is the driver's path (absolute on fs, `ipfs://<cid>` on IPFS).
 */
export function toInferenceFields (result: Pick<StorageResult, 'sha256' | 'path'>): { image_hash: string, image_path: string } {
  return { image_hash: result.sha256, image_path: result.path }
}
