/**
 * What the S3 driver does in the bucket, under the front (core/front.ts): a put once per image
 * (store.ts), reads re-hashed (objects.ts), a prune's claims (claim.ts), the fsck (verify.ts).
 */
import type { StoreMarks } from '../../core/marks.js'
import type { Readable } from 'node:stream'
import type { PutOptions, StatFields, Stored, StorageAdapter } from '../../core/adapter.js'
import { checkWhole } from '../../core/checks.js'
import { IntegrityError, NotFoundError } from '../../core/errors.js'
import { placed } from '../../core/front.js'
import type { Digest } from '../../core/hashing.js'
import { resolveLimits, sniffImageType, UNKNOWN_MIME_TYPE } from '../../core/input.js'
import { optionalPeer } from '../../core/optional-peer.js'
import { quarantinedHint } from '../../core/quarantine.js'
import { SHA256_HEX } from '../../core/ref.js'
import { PrefixSharding } from '../../core/sharding.js'
import type { ImageEntry, ListOptions } from '../../core/types.js'
import { verifiedStream } from '../../core/verified-stream.js'
import type { VerifyOptions, VerifyReport } from '../../core/verify-report.js'
import { PruneClaims } from './claim.js'
import { S3Connection } from './client.js'
import { checkedPlace, DEFAULT_S3_REGION, DEFAULT_S3_TIMEOUT_MS, type S3DriverInit } from './init.js'
import { s3Marks } from './marks.js'
import { S3Objects } from './objects.js'
import { putOnce } from './store.js'
import { S3Quarantine, verifyBucket } from './verify.js'

const loadPresigner = optionalPeer({
  neededBy: 'S3 links (url)',
  option: 'driver',
  install: '@aws-sdk/s3-request-presigner@3.1169.0',
  load: async () => await import('@aws-sdk/s3-request-presigner'),
  require: () => require('@aws-sdk/s3-request-presigner')
})

export class S3Adapter implements StorageAdapter {
  readonly driver = 's3'
  readonly bucket: string
  readonly prefix: string
  readonly endpoint: string
  readonly location: string
  readonly quarantine: S3Quarantine
  readonly marks: StoreMarks
  readonly checksSha256OnArrival = true
  private readonly sharding = new PrefixSharding()
  private readonly connection: S3Connection
  private readonly objects: S3Objects
  private readonly claims: PruneClaims

  constructor(init: S3DriverInit) {
    const { bucket, prefix } = checkedPlace(init)
    checkWhole('timeoutMs', init.timeoutMs, { of: 'ms' }) // NaN throws in every request; 0 waits for ever
    this.bucket = bucket
    this.prefix = prefix
    this.connection = new S3Connection({
      bucket,
      endpoint: init.endpoint,
      region: init.region ?? DEFAULT_S3_REGION,
      credentials: init.credentials,
      forcePathStyle: init.forcePathStyle,
      timeoutMs: init.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS,
      pathOf: subject => this.uri(SHA256_HEX.test(subject) ? this.objectKey(subject.toLowerCase()) : subject)
    })
    this.endpoint = this.connection.endpoint
    this.location = `s3://${bucket}/${prefix} at ${this.endpoint}`
    const limits = { maxBytes: init.maxBytes, allowNonImage: init.allowNonImage }
    this.objects = new S3Objects(this.connection, bucket, () => resolveLimits(limits).maxBytes)
    this.claims = new PruneClaims(this.objects, prefix)
    this.quarantine = new S3Quarantine(this.objects, prefix, this.sharding, key => this.uri(key))
    // a replica's owner (replication/owner.ts)
    this.marks = s3Marks(this.objects, this.connection, bucket, prefix, key => this.uri(key))
  }

  /** `s3://bucket/{prefix}{key}`; the key relative to the prefix, as on the filesystem. */
  place(sha256: string): { hash: string; key: string; url: string } {
    const key = this.sharding.encode(sha256)
    return { hash: sha256, key, url: this.uri(this.prefix + key) }
  }

  async put(bytes: Buffer, digest: Digest, options: PutOptions): Promise<Stored<string>> {
    const { sha256 } = digest
    const key = this.objectKey(sha256)
    const { signal, keepTimes } = options
    const done = await putOnce(this.objects, this.claims, key, bytes, digest, signal, keepTimes?.storedAt)
    return { key: sha256, ...done }
  }

  async get(sha256: string, signal?: AbortSignal): Promise<Buffer> {
    const object = await this.objects.read(this.objectKey(sha256), signal)
    if (object === undefined) throw await this.notFound(sha256, signal)
    if (object.actual !== sha256) throw new IntegrityError(sha256, object.actual, this.pathOf(sha256))
    return object.bytes
  }

  async getStream(sha256: string, signal?: AbortSignal): Promise<Readable> {
    const stream = await this.objects.stream(this.objectKey(sha256), sha256, signal)
    return verifiedStream(stream, sha256, this.pathOf(sha256))
  }

  /** Whether an object is under the key, damaged or not (`fetch` and `verify` judge the bytes). */
  async has(sha256: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.objects.head(this.objectKey(sha256), signal)) !== undefined
  }

  async stat(sha256: string, signal?: AbortSignal): Promise<StatFields<string>> {
    const { head, size, storedAt, lastStoredAt } = await this.objects.start(this.objectKey(sha256), sha256, signal)
    return { sha256, size, storedAt, lastStoredAt, mimeType: sniffImageType(head) ?? UNKNOWN_MIME_TYPE }
  }

  async delete(sha256: string, signal?: AbortSignal): Promise<boolean> {
    if ((await this.objects.head(this.objectKey(sha256), signal)) === undefined) return false
    await this.objects.remove(this.objectKey(sha256), signal)
    return true
  }

  /** Deletes the object unless a store renewed it after `lastStoredAt` (compared in whole seconds: see claim.ts). */
  async deleteIfNotRenewed(sha256: string, lastStoredAt: Date, signal?: AbortSignal): Promise<boolean> {
    return await this.claims.deleteIfNotRenewed(this.objectKey(sha256), sha256, lastStoredAt, signal)
  }

  /** Every stored object, a page (1000 keys) at a time, with its size and Last-Modified; keys not ours are skipped. */
  async *list(options: ListOptions): AsyncGenerator<ImageEntry> {
    const startAfter = options.after === undefined ? undefined : this.objectKey(options.after)
    const keys = this.prefix + this.sharding.keyPrefix(options.prefix ?? '')
    for await (const { Key, Size, LastModified } of this.objects.list(keys, options.signal, startAfter)) {
      const sha256 = this.sharding.decode(Key.slice(this.prefix.length))
      if (sha256 !== undefined) yield { ...placed(this.place(sha256)), sha256, size: Size, lastStoredAt: LastModified }
    }
  }

  /** Re-hashes every object (or a subset); with `repair`, damaged ones go to the quarantine, stale claims away. */
  async verify(options: VerifyOptions): Promise<VerifyReport> {
    const uri = (key: string): string => this.uri(key)
    return await verifyBucket(this.objects, this.claims, this.prefix, this.sharding, this.quarantine, uri, options)
  }

  /** A presigned GET link, valid for `expiresIn` seconds (default 900): for a browser or a redirect. */
  async url(sha256: string, options: { expiresIn?: number }): Promise<string> {
    checkWhole('expiresIn', options.expiresIn, { max: 604_800, of: 'seconds' }) // SigV4: 7 days at most
    const [{ client, sdk }, { getSignedUrl }] = await Promise.all([this.connection.connect(), loadPresigner()])
    const command = new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(sha256) })
    try {
      return await getSignedUrl(client, command, { expiresIn: options.expiresIn ?? 900 })
    } catch (err) {
      throw this.connection.failure(err, 'presign') // the SDK's chain found no credentials, say
    }
  }

  async close(): Promise<void> {
    this.connection.destroy()
  }

  /** `ERR_NOT_FOUND`, saying so if a repair quarantined the object. */
  private async notFound(sha256: string, signal?: AbortSignal): Promise<NotFoundError> {
    const [held] = await this.quarantine.holding(sha256, signal)
    return new NotFoundError(sha256, this.pathOf(sha256), held === undefined ? undefined : quarantinedHint(held))
  }

  private pathOf(sha256: string): string {
    return this.uri(this.objectKey(sha256))
  }

  private objectKey(sha256: string): string {
    return this.prefix + this.sharding.encode(sha256)
  }

  private uri(key: string): string {
    return `s3://${this.bucket}/${key}`
  }
}
