/**
 * Stores images in an S3 bucket (Ceph RADOS Gateway, MinIO, Garage, AWS, B2, R2...) under the
 * filesystem driver's layout: `{prefix}{h[0:2]}/{h[2:4]}/{h}.jpg`, h the SHA-256 hex. A tree copied
 * with `rclone` or `aws s3 sync` is a valid store, and back.
 *
 * - A store is one `PutObject` with `If-None-Match: *`: one writer per image, on any host (store.ts).
 * - Uploads are signed with the SHA-256 of the body (the object's name): the server refuses bytes
 *   altered on the way. `fetch` re-hashes; `fetchStream` verifies as it flows, as on the filesystem.
 * - A store holds the whole input in memory (at most `maxBytes`), to hash it before the upload.
 * - `@aws-sdk/client-s3` (and `@aws-sdk/s3-request-presigner` for `url()`) are loaded on first use;
 *   no public type names theirs.
 *
 * @example
 * ```ts
 * const storage = new S3Driver({ endpoint: 'http://127.0.0.1:7480', bucket: 'frames', forcePathStyle: true })
 * const { hash, url } = await storage.store(jpeg) // sha256 hex, 's3://frames/ab/cd/abcd….jpg'
 * const link = await storage.url(hash, { expiresIn: 300 })
 * ```
 */
import { StorageFront } from '../../core/front.js'
import type { StoreMarks } from '../../core/marks.js'
import { S3Adapter } from './adapter.js'
import type { S3DriverInit } from './init.js'

export { DEFAULT_S3_REGION, DEFAULT_S3_TIMEOUT_MS, type S3DriverInit } from './init.js'

type Capability<Name extends 'storeKnown' | 'deleteIfNotRenewed' | 'verify' | 'url' | 'quarantine'> = NonNullable<
  StorageFront[Name]
>

export class S3Driver extends StorageFront {
  declare readonly quarantine: Capability<'quarantine'>
  declare readonly storeKnown: Capability<'storeKnown'>
  declare readonly deleteIfNotRenewed: Capability<'deleteIfNotRenewed'>
  declare readonly verify: Capability<'verify'>
  /** A presigned GET link, valid for `expiresIn` seconds (default 900): for a browser or a redirect. */
  declare readonly url: (ref: string, options?: { expiresIn?: number }) => Promise<string>
  readonly bucket: string
  readonly prefix: string
  /** Where requests go, without credentials: safe to print. */
  readonly endpoint: string
  /** A replica's owner and other small texts, under `{prefix}.marks/` (features/replication/owner.ts). */
  readonly marks: StoreMarks

  constructor(init: S3DriverInit) {
    const adapter = new S3Adapter(init)
    super(adapter, init)
    this.bucket = adapter.bucket
    this.prefix = adapter.prefix
    this.endpoint = adapter.endpoint
    this.marks = adapter.marks
    const url = this.url
    this.url = async (ref, options) => await url(ref, options) // a bad ref rejects, as every async call's
  }

  /** Shown by `util.inspect` (and so by loggers): never the credentials. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `S3Driver { endpoint: '${this.endpoint}', bucket: '${this.bucket}', prefix: '${this.prefix}' }`
  }

  toJSON(): object {
    return { driver: this.driver, endpoint: this.endpoint, bucket: this.bucket, prefix: this.prefix }
  }
}
