/**
 * What the S3 tests share: the test gateway (test/infra/setup/ceph.ts starts one, or SAI_TEST_S3_*
 * names another), a bucket of each test file's own, a driver on a prefix of each test's own.
 */
import { createHash, randomBytes } from 'node:crypto'
import { type IncomingMessage, request, type Server, type ServerResponse } from 'node:http'
import type { Server as NetServer } from 'node:net'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, inject } from 'vitest'
import type { ImageStorage } from '../../../src/core/types.js'
import { PruneClaims } from '../../../src/drivers/s3/claim.js'
import { S3Driver, type S3DriverInit } from '../../../src/drivers/s3/index.js'
import type { S3Objects } from '../../../src/drivers/s3/objects.js'

export const s3 = inject('s3')
export const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
export const bucket = `sai-test-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
export const init: S3DriverInit = {
  endpoint: s3.endpoint,
  region: s3.region,
  bucket,
  credentials,
  forcePathStyle: true,
  timeoutMs: 10_000
}
export const raw = new S3Client({
  endpoint: s3.endpoint,
  region: s3.region,
  credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED'
})
export const env = {
  ...process.env,
  SAI_S3_ENDPOINT: s3.endpoint,
  SAI_S3_BUCKET: bucket,
  SAI_S3_REGION: s3.region,
  SAI_S3_ACCESS_KEY_ID: s3.accessKeyId,
  SAI_S3_SECRET_ACCESS_KEY: s3.secretAccessKey
}
export const cli = new URL('../../../dist/cli.js', import.meta.url).pathname
export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

let prefixes = 0
/** A driver on a prefix of its own: the tests do not see each other's objects. */
export const fresh = (extra: Partial<S3DriverInit> = {}): S3Driver =>
  new S3Driver({ ...init, prefix: `t${++prefixes}-${Date.now().toString(36)}/`, ...extra })

/** Creates the file's bucket before its tests, and lets the raw client go after them. */
export function useBucket(): void {
  beforeAll(async () => {
    await raw.send(new CreateBucketCommand({ Bucket: bucket }))
  })
  afterAll(() => {
    raw.destroy()
  })
}

/** Truncates a stored object to its first `keep` bytes, behind the driver's back. */
export const damage = async (storage: ImageStorage, hash: string, keep: number): Promise<void> => {
  const key = (storage as S3Driver).prefix + storage.keyOf(hash)
  const whole = await storage.fetch(hash)
  await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: whole.subarray(0, keep) }))
}

export async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

export async function listen(server: Server | NetServer): Promise<number> {
  return await new Promise(resolve =>
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as { port: number }).port)
    })
  )
}

/**
 * A test proxy's pass-through: the request sent on to the gateway (with `body` when the proxy has read it, else
 * streamed), and the gateway's answer back (through `answer` when the test alters it).
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  body?: Buffer,
  answer: (from: IncomingMessage) => void = from => from.pipe(res)
): void {
  const target = new URL(s3.endpoint)
  const out = request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
    from => {
      res.writeHead(from.statusCode!, from.headers)
      answer(from)
    }
  )
  if (body === undefined) req.pipe(out)
  else out.end(body)
}

/**
 * The driver's prune claims with a window of `ms` instead of a minute: a claim's age is the gateway's clock, which a
 * test cannot move, so a test that needs a stale claim waits `ms` for it.
 */
export function claimWindow(driver: S3Driver, ms: number): PruneClaims {
  const inside = (driver as unknown as { adapter: { objects: S3Objects; claims: PruneClaims } }).adapter
  inside.claims = new PruneClaims(inside.objects, driver.prefix, ms)
  return inside.claims
}
