/**
 * sai-image-storage/adapter: what a new driver is written with. A driver implements
 * `StorageAdapter` (only what touches its medium: `place`, `put`, `get`, `has`, `delete`, `list`,
 * and any optional capability) and `StorageFront` does the rest for it, as for the built-in
 * drivers: ref parsing, abort checks, input limits and decoding, hashing, tracing, and the
 * results' shape. Run `describeImageStorage` (sai-image-storage/testing) on it.
 *
 * `get` must return bytes whose SHA-256 the adapter checked against the key (an
 * `IntegrityError` from the main entry otherwise): the front never returns bytes unverified, and
 * it relies on the adapter for that.
 *
 * @example
 * ```ts
 * import { StorageFront, type StorageAdapter } from 'sai-image-storage/adapter'
 *
 * class KvDriver extends StorageFront {
 *   constructor(kv: Kv) { super(new KvAdapter(kv), { maxBytes: 10_000_000 }) }
 * }
 * ```
 */
export { placed, StorageFront } from './core/front.js'
export type { Place, PutOptions, StatFields, StorageAdapter, Stored } from './core/adapter.js'
export type { Digest } from './core/hashing.js'
export type { ImageSource, InputLimits, LimitsInit } from './core/input.js'
export type { StoreMarks } from './core/marks.js'
