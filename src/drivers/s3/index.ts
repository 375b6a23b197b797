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
 * const { hash, path } = await storage.store(jpeg) // sha256 hex, 's3://frames/ab/cd/abcd….jpg'
 * const link = await storage.url(hash, { expiresIn: 300 })
 * ```
 */
import type { Readable } from 'node:stream'
import { IntegrityError, NotFoundError } from '../../core/errors.js'
import { digestKnown, readAll, type Digest } from '../../core/hashing.js'
import { readInput, type ImageInput } from '../../core/input.js'
import type { StoreMarks } from '../../core/marks.js'
import { resolveLimits } from '../../core/limits.js'
import { sniffImageType, UNKNOWN_MIME_TYPE } from '../../core/mime.js'
import { quarantinedHint } from '../../core/quarantine.js'
import { parseImageRef, SHA256_HEX } from '../../core/ref.js'
import { PrefixSharding } from '../../core/sharding.js'
import { traced, tracedIterable } from '../../core/tracing.js'
import type {
  AbortOptions,
  ImageEntry,
  ImageStat,
  ImageStorage,
  ListOptions,
  Quarantine,
  StorageResult,
  StoreOptions
} from '../../core/types.js'
import { verifiedStream } from '../../core/verified-stream.js'
import type { VerifyOptions, VerifyReport } from '../../core/verify-report.js'
import { PruneClaims } from './claim.js'
import { loadPresigner, S3Connection } from './client.js'
import { checkedPlace, DEFAULT_S3_REGION, DEFAULT_S3_TIMEOUT_MS, type S3DriverInit } from './init.js'
import { s3Marks } from './marks.js'
import { S3Objects } from './objects.js'
import { putOnce } from './store.js'
import { S3Quarantine, verifyBucket } from './verify.js'

export { DEFAULT_S3_REGION, DEFAULT_S3_TIMEOUT_MS, type S3DriverInit } from './init.js'

export class S3Driver implements ImageStorage {
  readonly driver = 's3'
  readonly bucket: string
  readonly prefix: string
  /** Where requests go, without credentials: safe to print. */
  readonly endpoint: string
  readonly quarantine: Quarantine
  readonly marks: StoreMarks
  private readonly held: S3Quarantine
  private readonly sharding = new PrefixSharding()
  private readonly init: S3DriverInit
  private readonly connection: S3Connection
  private readonly objects: S3Objects
  private readonly claims: PruneClaims

  constructor(init: S3DriverInit) {
    const { bucket, prefix } = checkedPlace(init)
    this.init = { ...init, credentials: undefined }
    this.bucket = bucket
    this.prefix = prefix
    this.connection = new S3Connection({
      bucket,
      endpoint: init.endpoint,
      region: init.region ?? DEFAULT_S3_REGION,
      credentials: init.credentials,
      forcePathStyle: init.forcePathStyle,
      timeoutMs: init.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS,
      settingNames: init.settingNames,
      pathOf: subject => (SHA256_HEX.test(subject) ? this.pathOf(subject) : this.uri(subject))
    })
    this.endpoint = this.connection.endpoint
    this.objects = new S3Objects(this.connection, this.bucket, () => resolveLimits(this.init).maxBytes)
    this.claims = new PruneClaims(this.objects, this.prefix)
    this.quarantine = this.held = new S3Quarantine(this.objects, this.prefix, this.sharding, key => this.uri(key))
    this.marks = s3Marks(this.objects, this.prefix, key => this.uri(key)) // a replica's owner (replication/owner.ts)
  }

  get location(): string {
    return `s3://${this.bucket}/${this.prefix} at ${this.endpoint}`
  }

  async store(input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    return await traced('store', this.driver, undefined, async () => {
      options.signal?.throwIfAborted()
      const limits = resolveLimits(this.init, options)
      const { bytes, digest } = await readAll(await readInput(input, limits), limits, options.signal)
      return await this.put(bytes, digest, options.signal, options.keepTimes?.storedAt)
    })
  }

  /** A store of bytes whose SHA-256 is known: not hashed here, the server checks it (the signed payload hash). */
  async storeKnown(bytes: Buffer, sha256: string, options: StoreOptions = {}): Promise<StorageResult> {
    return await traced('store', this.driver, sha256, async () => {
      options.signal?.throwIfAborted()
      const digest = digestKnown(bytes, sha256, resolveLimits(this.init, options))
      return await this.put(bytes, digest, options.signal, options.keepTimes?.storedAt)
    })
  }

  private async put(bytes: Buffer, digest: Digest, signal?: AbortSignal, firstStore?: Date): Promise<StorageResult> {
    const { sha256 } = digest
    const { isDuplicate, storedAt } = await putOnce(
      this.objects,
      this.claims,
      this.objectKey(sha256),
      bytes,
      digest,
      signal,
      firstStore
    )
    return { ...digest, hash: sha256, key: this.keyOf(sha256), path: this.pathOf(sha256), isDuplicate, storedAt }
  }

  async fetch(ref: string, options: AbortOptions = {}): Promise<Buffer> {
    return await traced('fetch', this.driver, ref, async () => {
      const { sha256 } = parseImageRef(ref)
      const object = await this.objects.read(this.objectKey(sha256), options.signal)
      if (object === undefined) throw await this.notFound(sha256, options.signal)
      if (object.actual !== sha256) throw new IntegrityError(sha256, object.actual, this.pathOf(sha256))
      return object.bytes
    })
  }

  async fetchStream(ref: string, options: AbortOptions = {}): Promise<Readable> {
    return await traced('fetchStream', this.driver, ref, async () => {
      const { sha256 } = parseImageRef(ref)
      return verifiedStream(
        await this.objects.stream(this.objectKey(sha256), sha256, options.signal),
        sha256,
        this.pathOf(sha256)
      )
    })
  }

  /** Whether an object is under the key, damaged or not (`fetch` and `verify` judge the bytes). */
  async exists(ref: string, options: AbortOptions = {}): Promise<boolean> {
    const { sha256 } = parseImageRef(ref)
    return (await this.objects.head(this.objectKey(sha256), options.signal)) !== undefined
  }

  async stat(ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    return await traced('stat', this.driver, ref, async () => {
      const { sha256 } = parseImageRef(ref)
      const { head, size, storedAt, lastStoredAt } = await this.objects.start(
        this.objectKey(sha256),
        sha256,
        options.signal
      )
      return {
        hash: sha256,
        sha256,
        path: this.pathOf(sha256),
        key: this.keyOf(sha256),
        size,
        storedAt,
        lastStoredAt,
        mimeType: sniffImageType(head) ?? UNKNOWN_MIME_TYPE
      }
    })
  }

  async delete(ref: string, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', this.driver, ref, async () => {
      const { sha256 } = parseImageRef(ref)
      if ((await this.objects.head(this.objectKey(sha256), options.signal)) === undefined) return false
      await this.objects.remove(this.objectKey(sha256), options.signal)
      return true
    })
  }

  /** Deletes the object unless a store renewed it after `lastStoredAt` (compared in whole seconds: see claim.ts). */
  async deleteIfNotRenewed(ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', this.driver, ref, async () => {
      const { sha256 } = parseImageRef(ref)
      return await this.claims.deleteIfNotRenewed(this.objectKey(sha256), sha256, lastStoredAt, options.signal)
    })
  }

  /** Every stored object, a page (1000 keys) at a time, with its size and Last-Modified. Keys that are not ours are skipped. */
  list(options: ListOptions = {}): AsyncGenerator<ImageEntry> {
    return tracedIterable('list', this.driver, this.entries(options), options)
  }

  /** Re-hashes every object (or a subset); with `repair`, damaged ones go to the quarantine and a killed prune's claims are removed. */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    return await traced(
      'verify',
      this.driver,
      undefined,
      async () =>
        await verifyBucket(this.objects, this.prefix, this.sharding, this.held, key => this.uri(key), options),
      undefined,
      { repair: options.repair === true }
    )
  }

  /** A presigned GET link, valid for `expiresIn` seconds (default 900): for a browser or a redirect. */
  async url(ref: string, options: { expiresIn?: number } = {}): Promise<string> {
    const { sha256 } = parseImageRef(ref)
    const [{ client, sdk }, { getSignedUrl }] = await Promise.all([this.connection.connect(), loadPresigner()])
    return await getSignedUrl(client, new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(sha256) }), {
      expiresIn: options.expiresIn ?? 900
    })
  }

  /** `s3://bucket/{prefix}{key}`. */
  pathOf(ref: string): string {
    return this.uri(this.objectKey(parseImageRef(ref).sha256))
  }

  /** Relative to the prefix: `ab/cd/abcd….jpg`, as on the filesystem. */
  keyOf(ref: string): string {
    return this.sharding.encode(parseImageRef(ref).sha256)
  }

  async close(): Promise<void> {
    this.connection.destroy()
  }

  /** Shown by `util.inspect` (and so by loggers): never the credentials. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `S3Driver { endpoint: '${this.endpoint}', bucket: '${this.bucket}', prefix: '${this.prefix}' }`
  }

  toJSON(): object {
    return { driver: this.driver, endpoint: this.endpoint, bucket: this.bucket, prefix: this.prefix }
  }

  private async *entries(options: ListOptions): AsyncGenerator<ImageEntry> {
    const startAfter = options.after === undefined ? undefined : this.objectKey(options.after)
    for await (const { Key, Size, LastModified } of this.objects.list(
      this.prefix + this.sharding.keyPrefix(options.prefix ?? ''),
      options.signal,
      startAfter
    )) {
      const sha256 = this.sharding.decode(Key.slice(this.prefix.length))
      if (sha256 !== undefined)
        yield {
          hash: sha256,
          sha256,
          key: this.keyOf(sha256),
          path: this.pathOf(sha256),
          size: Size,
          lastStoredAt: LastModified
        }
    }
  }

  /** `ERR_NOT_FOUND`, saying so if a repair quarantined the object. */
  private async notFound(sha256: string, signal?: AbortSignal): Promise<NotFoundError> {
    const [held] = await this.held.holding(sha256, signal)
    return new NotFoundError(sha256, this.pathOf(sha256), held === undefined ? undefined : quarantinedHint(held))
  }

  private objectKey(sha256: string): string {
    return this.prefix + this.sharding.encode(sha256)
  }

  private uri(key: string): string {
    return `s3://${this.bucket}/${key}`
  }
}
