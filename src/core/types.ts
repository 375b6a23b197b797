/**
 * What a store is: `ImageStorage`, the results it gives, and the optional capabilities a driver
 * may offer (a local root, presigned links, a fsck, a quarantine...). Features ask for a capability
 * by its presence, never by a driver's class.
 */
import type { Readable } from 'node:stream'
import type { ImageInput } from './input.js'
import type { StoreMarks } from './marks.js'
import type { VerifyOptions, VerifyReport } from './verify-report.js'

export interface AbortOptions {
  signal?: AbortSignal
}

/** `fetch`'s options. */
export interface FetchOptions extends AbortOptions {
  /**
   * For work that can overlap the check (a variant's render): called with the bytes as read, before
   * their SHA-256 is checked, by a driver that reads an object whole before hashing it (the
   * filesystem; others never call it). They may be wrong: nothing made from them may be used unless
   * `fetch` then resolves with this very Buffer. Any other outcome (an error, or other bytes: a
   * replica's after a damaged copy, when it may be called again) means they were not the object's.
   */
  onUnverified?: (bytes: Buffer) => void
}

export interface StoreOptions extends AbortOptions {
  /** Rejects larger input with `ERR_TOO_LARGE`, while it streams. Default: the driver's (50 MB). */
  maxBytes?: number
  /** Stores bytes that are not a recognised image instead of rejecting them. Default: the driver's (false). */
  allowNonImage?: boolean
  /**
   * A copy's history (`migrate`): a new object keeps the times it had in its first store, where the
   * driver can hold them; a duplicate keeps its own. fs: `lastStoredAt` (the mtime; a birth time cannot
   * be set); s3: `storedAt` (Last-Modified is the server's); memory and ipfs (its markers): both.
   */
  keepTimes?: { storedAt?: Date; lastStoredAt?: Date }
}

/** What `store` tells about the stored object. */
export interface StorageResult {
  /** The driver's address: SHA-256 hex for fs, s3 and memory, the CID for IPFS. */
  hash: string
  /** The file's absolute path (fs). Elsewhere the same as `url`: that `path` is deprecated, gone in 0.3. */
  path: string
  /** The object's URL where it is not a local file (`s3://bucket/key`, `ipfs://<cid>`, `memory://key`). */
  url?: string
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
  /** Undefined where the address does not hold it (an IPFS object over 1 MiB stored before the index). */
  sha256?: string
  /** As `StorageResult.path`: a file's path, or (deprecated) the same as `url`. */
  path: string
  /** As `StorageResult.url`: where the object is not a local file. */
  url?: string
  key: string
  /** What is stored under the name, damaged (empty, truncated) or not: `fetch` and `verify` judge the bytes. */
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
  /** Undefined where the address does not hold it (an IPFS object over 1 MiB stored before the index). */
  sha256?: string
  /** As `StorageResult.path`: a file's path, or (deprecated) the same as `url`. */
  path: string
  /** As `StorageResult.url`: where the object is not a local file. */
  url?: string
  key: string
  /** Bytes under the name, where the listing tells it at no extra cost (fs, s3, memory, ipfs). */
  size?: number
  /** As `ImageStat.lastStoredAt`, where the listing tells it (fs: the mtime; s3: Last-Modified, whole seconds). */
  lastStoredAt?: Date
}

export interface ListOptions extends AbortOptions {
  /** Only objects whose SHA-256 hex starts with these (lower-case) hex digits. */
  prefix?: string
  /** Only objects whose SHA-256 hex sorts after this one: the cursor of a paginated or resumed walk. */
  after?: string
}

/**
 * A content-addressed image store. Refs are the `hash` of a result, or for sha256-addressed
 * drivers the SHA-256 hex or the equivalent CIDv1 (see `parseImageRef`).
 */
export interface ImageStorage {
  /** Which driver this is: `fs`, `memory`, `s3`, `ipfs`, `replicated`. */
  readonly driver: string
  /** Resolves only once the bytes are durable. */
  store: (input: ImageInput, options?: StoreOptions) => Promise<StorageResult>
  /** The verified bytes; `ERR_NOT_FOUND` if absent, `ERR_INTEGRITY` if they no longer match the ref. */
  fetch: (ref: string, options?: FetchOptions) => Promise<Buffer>
  /**
   * A stream of the bytes that errors with `ERR_INTEGRITY` at its end if they do not match; it never delivers all of
   * wrong bytes.
   */
  fetchStream: (ref: string, options?: AbortOptions) => Promise<Readable>
  /** Whether an object is stored under the ref, damaged or not (`fetch` and `verify` judge the bytes). */
  exists: (ref: string, options?: AbortOptions) => Promise<boolean>
  stat: (ref: string, options?: AbortOptions) => Promise<ImageStat>
  /** True if an object was removed, false if there was none. */
  delete: (ref: string, options?: AbortOptions) => Promise<boolean>
  /**
   * Every stored object, streamed (the whole tree is never held in memory), in ascending order of
   * SHA-256 hex; objects whose SHA-256 the driver does not know come last.
   */
  list: (options?: ListOptions) => AsyncIterable<ImageEntry>
  /** Where the object for `ref` is (or would be): absolute path or URL. */
  pathOf: (ref: string) => string
  /** `pathOf` relative to the root. */
  keyOf: (ref: string) => string
  close: () => Promise<void>

  // Optional capabilities: a feature asks for one by its presence.

  /**
   * Deletes the object only if it was not stored again since `lastStoredAt` (as `stat` or `list`
   * gave it): true if it was deleted. Drivers that have it make `prune` safe against concurrent
   * stores. The protocol, on every driver: a duplicate store renews the object's time first and
   * then re-checks that the object is still there (writing it anew if not); a prune claims or sets
   * the object aside first and then re-reads its time (keeping it if renewed). Either the prune
   * sees the renewal, or the store sees the object gone.
   */
  deleteIfNotRenewed?: (ref: string, lastStoredAt: Date, options?: AbortOptions) => Promise<boolean>
  /**
   * Stores bytes whose SHA-256 the caller has verified already, without hashing them again: only a
   * driver whose server checks that SHA-256 on arrival offers it (S3: it is the signed payload
   * hash), so bytes that do not match are refused, never stored. Replication copies with it.
   */
  storeKnown?: (bytes: Buffer, sha256: string, options?: StoreOptions) => Promise<StorageResult>
  /**
   * The local directory that holds each object as the file `{root}/{key}`: nginx can send it, variants are cached
   * beside it.
   */
  readonly root?: string
  /**
   * Where the store is, safe to print (never a credential): an absolute root, `s3://bucket/prefix at endpoint`, an
   * API URL.
   */
  readonly location?: string
  /**
   * An HTTP link to the object for a browser or a redirect (S3: presigned, valid `expiresIn` seconds; IPFS: the
   * gateway).
   */
  url?: (ref: string, options?: { expiresIn?: number }) => string | Promise<string>
  /**
   * The fsck: re-hashes every object (or a subset), reports what is wrong, and with `repair` sets it right where it
   * can.
   */
  verify?: (options?: VerifyOptions) => Promise<VerifyReport>
  /** Objects taken out of the store by a repair: kept, never deleted unseen. */
  readonly quarantine?: Quarantine
  /** Rebuilds the driver's own index from what it holds (IPFS: the SHA-256 → CID index). */
  reindex?: (options?: AbortOptions & { onProgress?: (report: ReindexReport) => void }) => Promise<ReindexReport>
  /** Small named texts kept beside the objects, never listed as objects (a replica's owner: core/marks.ts). */
  readonly marks?: StoreMarks
  /** Whether what it acknowledged survives a power cut (IPFS: the node's setup); `evict` counts no copy where not. */
  durability?: (options?: AbortOptions) => Promise<{ powerCutSafe: boolean | undefined; advice?: string }>
}

export interface QuarantineEntry {
  /** Stable for `restore` and `purge`. */
  id: string
  /** The SHA-256 its name claimed. */
  sha256: string
  /** Where it is now. */
  path: string
  size: number
  /** When it was taken out. */
  quarantinedAt: Date
  /** Why, where known: `empty`, `truncated`, `corrupt`, `misnamed`, `healed` (replaced by a good copy). */
  reason?: string
  /** A misnamed file's key before it was taken out (`restore` puts it back there). */
  originalKey?: string
  /** A folder an older repair moved here (`size`: its files' bytes): never restored. */
  folder?: true
}

export interface RestoreOptions extends AbortOptions {
  /** Puts back bytes that do not match their name too (a fetch of them fails). */
  force?: boolean
}

export interface Quarantine {
  /** What the quarantine holds, oldest first. */
  list: (options?: AbortOptions) => AsyncIterable<QuarantineEntry>
  /** Quarantines what is stored under `ref` (before it is written anew from a good copy), if anything. */
  add: (ref: string, reason: string, options?: AbortOptions) => Promise<QuarantineEntry | undefined>
  /**
   * Puts the object back under its name if no object is there; false if one is (the quarantined
   * copy stays). Bytes that do not match their name are `ERR_INTEGRITY`, unless `force`; a folder: `ERR_INVALID_INPUT`.
   */
  restore: (id: string, options?: RestoreOptions) => Promise<boolean>
  /** Deletes it for good (a folder, whole): true if it was there. */
  purge: (id: string, options?: AbortOptions) => Promise<boolean>
}

export interface ReindexReport {
  /** Objects that had no index entry and got one. */
  indexed: number
  /** Objects that had their entry already. */
  alreadyIndexed: number
  /** Index entries whose object is not stored: listed, left alone. */
  unpinnedEntries: Array<{ sha256: string; cid: string }>
}
