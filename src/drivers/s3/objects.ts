/**
 * The requests on one object: a put that carries its checksums, a renewal (a copy onto itself),
 * a read hashed as it arrives, a HEAD, a delete, and the listing. An object's times: when it was
 * first stored is kept in its metadata (`stored-at`); when it was last stored is its Last-Modified,
 * which every store and renewal moves (the server's clock, whole seconds), and which a listing
 * gives too, so that a prune needs no request per object.
 */
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { S3Connection } from './client.js'
import type { ListedObject } from './list.js'

export interface StoredObject {
  bytes: Buffer
  /** SHA-256 hex of `bytes`. */
  actual: string
  storedAt?: Date
  lastStoredAt: Date
}

export interface ObjectHead {
  size: number
  lastStoredAt: Date
  storedAt?: Date
  /** The server's clock when it answered (a HEAD's Date), if it said. */
  answeredAt?: Date
}

export class S3Objects {
  constructor(
    private readonly connection: S3Connection,
    private readonly bucket: string,
    private readonly maxBytes: () => number
  ) {}

  /**
   * Writes the object; with `ifAbsent`, only if the key is free: false when it was taken (412).
   * Signed with the SHA-256 of the body, which the server checks on arrival (a Content-MD5
   * besides would check it again, at 14% of a copy's CPU); sent without the SDK (direct.ts).
   */
  async put(
    key: string,
    sha256: string,
    bytes: Buffer,
    mimeType: string,
    storedAt: Date,
    ifAbsent: boolean,
    signal?: AbortSignal
  ): Promise<boolean> {
    return await this.connection.upload(
      key,
      bytes,
      sha256,
      { 'content-type': mimeType, 'x-amz-meta-stored-at': storedAt.toISOString() },
      ifAbsent,
      signal
    )
  }

  /** An empty object at `key` if the key is free (a claim): false when it was taken. */
  async create(key: string, signal?: AbortSignal): Promise<boolean> {
    const created = await this.connection.request(
      'PutObject',
      key,
      signal,
      async (sdk, send) =>
        await send(
          new sdk.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.alloc(0), IfNoneMatch: '*' })
        ),
      412
    )
    return created !== undefined
  }

  /**
   * A copy onto itself: the same bytes, a new Last-Modified, in a later second than `previous`
   * (the renewal is then always visible to a prune that compares whole seconds: see claim.ts). The
   * new Last-Modified, or undefined if the object is gone.
   */
  async renew(
    key: string,
    sha256: string,
    mimeType: string,
    storedAt: Date,
    previous: Date,
    signal?: AbortSignal
  ): Promise<Date | undefined> {
    for (;;) {
      const copied = await this.connection.request(
        'CopyObject',
        sha256,
        signal,
        async (sdk, send) =>
          await send(
            new sdk.CopyObjectCommand({
              Bucket: this.bucket,
              Key: key,
              CopySource: `${this.bucket}/${key}`,
              MetadataDirective: 'REPLACE',
              ContentType: mimeType,
              Metadata: { 'stored-at': storedAt.toISOString() }
            })
          ),
        404
      )
      if (copied === undefined) return undefined
      const renewed: Date = copied.CopyObjectResult?.LastModified ?? new Date()
      if (!sameSecond(renewed, previous)) return renewed
      // stored again within the second of the last store: wait for the server's next second
      await new Promise(resolve => setTimeout(resolve, 1000 - (renewed.getTime() % 1000) + 5))
    }
  }

  /** The bytes and times, or undefined if there is no such object. */
  async read(key: string, signal?: AbortSignal): Promise<StoredObject | undefined> {
    const answer = await this.connection.download(key, signal)
    if (answer === undefined) return undefined
    // a length over maxBytes (copied in by another tool) is not trusted for the allocation
    const announced = Number(answer.headers['content-length'])
    const length = Number.isSafeInteger(announced) && announced <= this.maxBytes() ? announced : 0
    const modified = answer.headers['last-modified']
    try {
      return {
        ...(await receive(answer, length)),
        ...timesOf({ 'stored-at': header(answer.headers['x-amz-meta-stored-at']) }, dateOf(modified))
      }
    } catch (err) {
      throw this.connection.failure(err, 'GetObject', signal)
    }
  }

  /** The body as a stream, or `ERR_NOT_FOUND`. */
  async stream(key: string, sha256: string, signal?: AbortSignal): Promise<Readable> {
    const answer = await this.connection.download(key, signal)
    if (answer === undefined) throw this.connection.notFound(sha256)
    return answer
  }

  /** The first bytes (for the type), the size and the times, in one ranged request. */
  async start(key: string, sha256: string, signal?: AbortSignal): Promise<ObjectHead & { head: Buffer }> {
    const answer = await this.connection.request(
      'GetObject',
      sha256,
      signal,
      async (sdk, send) => await send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, Range: 'bytes=0-63' })),
      416
    )
    if (answer === undefined) {
      // an empty object has no byte 0: 416
      const head = await this.head(key, signal)
      if (head === undefined) throw this.connection.notFound(sha256)
      return { ...head, head: Buffer.alloc(0) }
    }
    const head = Buffer.from(await answer.Body!.transformToByteArray())
    const size = Number(/\/(\d+)$/.exec(answer.ContentRange ?? '')?.[1] ?? answer.ContentLength ?? head.length)
    return { head, size, ...timesOf(answer.Metadata, answer.LastModified) }
  }

  /** Sent without the SDK (direct.ts), for the answer's Date: the server's clock (claim.ts). */
  async head(key: string, signal?: AbortSignal): Promise<ObjectHead | undefined> {
    const headers = await this.connection.headers(key, signal)
    if (headers === undefined) {
      await this.connection.confirmBucket(signal)
      return undefined
    }
    const { date, 'last-modified': modified } = headers
    return {
      size: Number(headers['content-length'] ?? 0),
      ...timesOf({ 'stored-at': header(headers['x-amz-meta-stored-at']) }, dateOf(modified)),
      answeredAt: dateOf(date)
    }
  }

  async remove(key: string, signal?: AbortSignal): Promise<void> {
    await this.connection.request(
      'DeleteObject',
      key,
      signal,
      async (sdk, send) => await send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
    )
  }

  /** A server-side copy to another key (the quarantine). */
  async copy(from: string, to: string, signal?: AbortSignal): Promise<void> {
    await this.connection.request(
      'CopyObject',
      from,
      signal,
      async (sdk, send) =>
        await send(new sdk.CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: `${this.bucket}/${from}` }))
    )
  }

  /** Every key under `prefix`, a page (1000 keys) at a time, after `startAfter`. */
  async *list(prefix: string, signal?: AbortSignal, startAfter?: string): AsyncGenerator<ListedObject> {
    let token: string | undefined
    do {
      const page = await this.connection.listPage(prefix, { token, startAfter }, signal)
      yield* page.objects
      token = page.next
    } while (token !== undefined)
  }
}

/** Two times of one object's last store, as a listing and a HEAD give them: the same whole second. */
export function sameSecond(a: Date, b: Date): boolean {
  return Math.floor(a.getTime() / 1000) === Math.floor(b.getTime() / 1000)
}

function timesOf(
  metadata: Record<string, string | undefined> | undefined,
  lastModified: Date | undefined
): { storedAt?: Date; lastStoredAt: Date } {
  const stored = metadata?.['stored-at']
  return {
    storedAt: stored === undefined || Number.isNaN(Date.parse(stored)) ? undefined : new Date(stored),
    lastStoredAt: lastModified ?? new Date(0)
  }
}

function dateOf(value: string | undefined): Date | undefined {
  const ms = value === undefined ? Number.NaN : Date.parse(value)
  return Number.isNaN(ms) ? undefined : new Date(ms)
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/**
 * A body, hashed as it arrives, copied into one buffer of the announced length: the bytes are
 * held once (chunks and their concatenation held them twice). More than announced grows it.
 */
async function receive(body: Readable, length: number): Promise<{ bytes: Buffer; actual: string }> {
  const hash = createHash('sha256')
  let bytes = Buffer.allocUnsafe(length)
  let filled = 0
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk)
    if (filled + chunk.length > bytes.length)
      bytes = Buffer.concat([bytes.subarray(0, filled)], Math.max(2 * bytes.length, filled + chunk.length))
    filled += chunk.copy(bytes, filled)
  })
  await finished(body)
  return { bytes: bytes.subarray(0, filled), actual: hash.digest('hex') }
}
