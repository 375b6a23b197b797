/**
 * The S3 client: the AWS SDK loaded on first use, one request at a time with the timeout, and
 * every failure made ours. The credentials live in a true private field: neither JSON.stringify
 * nor util.inspect (so no logger) shows them, and no message or cause carries them.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import { NotFoundError, passThrough } from '../../core/errors.js'
import { serviceUnavailable } from '../../core/unavailable.js'
import { optionalPeer } from '../../core/optional-peer.js'
import { answerError, bucketBase, DirectClient, type Signer } from './direct.js'
import { type ListPage, listQuery, type PageOptions, readListing } from './list.js'
import { reasonOf } from './reason.js'
import { StaticSigner } from './sigv4.js'

export type Sdk = typeof import('@aws-sdk/client-s3')
export type Send = (command: unknown) => Promise<any>
export type Request<T> = (sdk: Sdk, send: Send) => Promise<T>

export interface ClientSettings {
  bucket: string
  endpoint?: string | URL
  region: string
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  forcePathStyle?: boolean
  timeoutMs: number
  /** The path a message gives for a hash or a key. */
  pathOf: (subject: string) => string
}

const loadSdk = optionalPeer({
  neededBy: 'the S3 driver',
  option: 'driver',
  install: '@aws-sdk/client-s3@3.1175.0',
  load: async () => await import('@aws-sdk/client-s3'),
  require: () => require('@aws-sdk/client-s3')
})

export class S3Connection {
  /** Where requests go, without credentials: safe to print. */
  readonly endpoint: string
  readonly #credentials?: ClientSettings['credentials']
  #client?: Promise<{ client: S3Client; sdk: Sdk }>
  #direct?: Promise<DirectClient>
  /** The bucket answered once: later misses are misses (confirmBucket). */
  #bucketSeen = false

  constructor(private readonly settings: ClientSettings) {
    this.endpoint =
      settings.endpoint === undefined
        ? `https://s3.${settings.region}.amazonaws.com`
        : String(settings.endpoint).replace(/\/$/, '')
    this.#credentials = settings.credentials
    this.settings = { ...settings, credentials: undefined }
  }

  /** `endpoint, bucket b`: for messages. */
  get where(): string {
    return `${this.endpoint}, bucket ${this.settings.bucket}`
  }

  async connect(): Promise<{ client: S3Client; sdk: Sdk }> {
    this.#client ??= loadSdk().then(
      sdk => {
        const { settings } = this
        const config: S3ClientConfig = {
          region: settings.region,
          forcePathStyle: settings.forcePathStyle ?? settings.endpoint !== undefined,
          // the defaults add CRC32 checksums that Ceph 16 ignores, and fail stream bodies with 411
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
          maxAttempts: 2,
          // the timeout as the HTTP handler's own timers (connect, answer, and silence while a body
          // flows): an AbortSignal.timeout per request measured 0.3 ms of a 4 ms fetch
          requestHandler: {
            connectionTimeout: settings.timeoutMs,
            requestTimeout: settings.timeoutMs,
            throwOnRequestTimeout: true,
            socketTimeout: settings.timeoutMs
          }
        }
        if (settings.endpoint !== undefined) config.endpoint = String(settings.endpoint)
        if (this.#credentials !== undefined) config.credentials = { ...this.#credentials }
        return { client: new sdk.S3Client(config), sdk }
      },
      (err: unknown) => {
        this.#client = undefined
        throw err
      }
    )
    return await this.#client
  }

  /**
   * The client of the requests sent without the SDK (direct.ts): PUT, GET and HEAD of an object. Signed by
   * ours for given credentials (sigv4.ts: no SDK to load first), else by the SDK's, its chain's.
   */
  private async direct(): Promise<DirectClient> {
    if (this.#direct !== undefined) return await this.#direct
    const given = this.#credentials
    const signer: Promise<Signer> =
      given === undefined
        ? this.connect().then(async ({ client }) => (await client.config.signer()) as Signer)
        : Promise.resolve(new StaticSigner(given, this.settings.region))
    this.#direct = signer.then(
      signer => {
        const { settings } = this
        const pathStyle = settings.forcePathStyle ?? (settings.endpoint !== undefined || settings.bucket.includes('.'))
        return new DirectClient(bucketBase(this.endpoint, settings.bucket, pathStyle), signer, settings.timeoutMs)
      },
      (err: unknown) => {
        this.#direct = undefined
        throw err
      }
    )
    return await this.#direct
  }

  /**
   * A PUT of `bytes` (whose SHA-256 is `sha256`) as `key`: true once written; with `ifAbsent`,
   * false if the key was taken (412).
   */
  async upload(
    key: string,
    bytes: Buffer,
    sha256: string,
    headers: Record<string, string>,
    ifAbsent: boolean,
    signal?: AbortSignal
  ): Promise<boolean> {
    return await this.directly('PutObject', signal, async direct => {
      const condition = ifAbsent ? { ...headers, 'if-none-match': '*' } : headers
      const answer = await direct.put(key, bytes, sha256, condition, signal)
      if (answer.status < 300) return true
      if (answer.status === 412 && ifAbsent) return false
      throw answerError(answer)
    })
  }

  /** A GET of `key`: the answer with its body to read, or undefined if there is no such object. */
  async download(key: string, signal?: AbortSignal): Promise<IncomingMessage | undefined> {
    return await this.directly('GetObject', signal, async direct => {
      const answer = await direct.get(key, signal)
      if (answer.body !== undefined) return answer.body
      // S3's own "no such object" only: a proxy's or a wrong path's 404 page is no answer about the object
      if (answer.status === 404 && answer.code === 'NoSuchKey') return undefined
      throw answerError(answer)
    })
  }

  /** A HEAD of `key`: the answer's headers, or undefined if there is no such object (or bucket: `confirmBucket`). */
  async headers(key: string, signal?: AbortSignal): Promise<IncomingHttpHeaders | undefined> {
    return await this.directly('HeadObject', signal, async direct => {
      const answer = await direct.head(key, signal)
      if (answer.status < 300) return answer.headers
      if (answer.status === 404) return undefined
      throw answerError(answer)
    })
  }

  /** One page of the keys under `prefix` (ListObjectsV2, sent directly: list.ts); a 404 is no listing: unavailable. */
  async listPage(prefix: string, options: PageOptions, signal?: AbortSignal): Promise<ListPage> {
    return await this.directly('ListObjectsV2', signal, async direct => {
      const answer = await direct.list(listQuery(prefix, options), signal)
      if (answer.text !== undefined) return readListing(answer.text)
      throw answerError(answer)
    })
  }

  /** `work` on the direct client, its failures made ours. */
  private async directly<T>(name: string, signal: AbortSignal | undefined, work: (direct: DirectClient) => Promise<T>) {
    try {
      return await work(await this.direct())
    } catch (err) {
      throw this.failure(err, name, signal)
    }
  }

  /** One request with the timeout, its failures made ours; a 404 is `ERR_NOT_FOUND` for `subject` (a hash or a key). */
  async request<T>(name: string, subject: string, signal: AbortSignal | undefined, work: Request<T>): Promise<T>
  /** The same, but the status `tolerated` (404, 412, 416) resolves undefined. */
  async request<T>(
    name: string,
    subject: string,
    signal: AbortSignal | undefined,
    work: Request<T>,
    tolerated: 404 | 412 | 416
  ): Promise<T | undefined>
  async request<T>(
    name: string,
    subject: string,
    signal: AbortSignal | undefined,
    work: Request<T>,
    tolerated?: 404 | 412 | 416
  ): Promise<T | undefined> {
    signal?.throwIfAborted()
    const { client, sdk } = await this.connect()
    const options = signal === undefined ? undefined : { abortSignal: signal }
    try {
      return await work(sdk, async command => await client.send(command as never, options))
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      // (a failure with no status, a refused connection, is none)
      if (tolerated !== undefined && status === tolerated && (err as Error).name !== 'NoSuchBucket') return undefined
      if (status === 404 && (err as Error).name !== 'NoSuchBucket' && signal?.aborted !== true) {
        throw this.notFound(subject)
      }
      throw this.failure(err, name, signal)
    }
  }

  /**
   * Throws `ERR_STORAGE_UNAVAILABLE` (the bucket option) if the bucket does not exist. A HEAD's 404 has
   * no body to say why, so a miss asks once: a typo in the bucket must not read as "not stored".
   */
  async confirmBucket(signal?: AbortSignal): Promise<void> {
    if (this.#bucketSeen) return
    const bucket = this.settings.bucket
    const found = await this.request(
      'HeadBucket',
      bucket,
      signal,
      async (sdk, send) => {
        return await send(new sdk.HeadBucketCommand({ Bucket: bucket }))
      },
      404
    )
    if (found === undefined)
      throw this.failure(Object.assign(new Error(bucket), { name: 'NoSuchBucket' }), 'HeadBucket')
    this.#bucketSeen = true
  }

  notFound(subject: string): NotFoundError {
    return new NotFoundError(subject, this.settings.pathOf(subject))
  }

  /** An SDK (or body) failure as `ERR_STORAGE_UNAVAILABLE`, saying what to check. */
  failure(err: unknown, name: string, signal?: AbortSignal): unknown {
    if (signal?.aborted === true) return signal.reason
    // ours already (an SDK abort is its timeout)
    if ((err as Error)?.name !== 'AbortError' && passThrough(err) !== undefined) return err
    const { why, option } = reasonOf(err, this.settings.timeoutMs)
    const { accessKeyId = '', secretAccessKey = '', sessionToken = '' } = this.#credentials ?? {}
    const secrets = [secretAccessKey, sessionToken, accessKeyId]
    return serviceUnavailable(err, { service: 'S3', where: this.where, operation: name, why, secrets, option })
  }

  destroy(): void {
    const [connected, direct] = [this.#client, this.#direct]
    this.#client = undefined
    this.#direct = undefined
    void direct?.then(
      d => {
        d.destroy()
      },
      () => {}
    )
    void connected?.then(
      ({ client }) => client.destroy(),
      () => {}
    )
  }
}
