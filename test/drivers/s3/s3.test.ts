/**
 * The S3 driver against a real Ceph RADOS Gateway (test/setup/ceph.ts starts one), or the S3 that
 * SAI_TEST_S3_* names.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ImageStorage } from '../../../src/core/types.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { S3Driver, type S3DriverInit } from '../../../src/drivers/s3/index.js'
import { bucketBase } from '../../../src/drivers/s3/direct.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { createImageStorage } from '../../../src/features/factory/index.js'
import { copyObject } from '../../../src/features/jobs/migrate.js'
import { prune } from '../../../src/features/retention/prune.js'
import { describeImageStorage, testJpeg } from '../../../src/testing/index.js'
import { freePort } from '../../infra/setup/services.js'
import { startChild } from '../../infra/helpers/child.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const s3 = inject('s3')
const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
const bucket = `sai-test-${Date.now().toString(36)}`
const init: S3DriverInit = {
  endpoint: s3.endpoint,
  region: s3.region,
  bucket,
  credentials,
  forcePathStyle: true,
  timeoutMs: 10_000
}
const raw = new S3Client({
  endpoint: s3.endpoint,
  region: s3.region,
  credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED'
})
const env = {
  ...process.env,
  SAI_S3_ENDPOINT: s3.endpoint,
  SAI_S3_BUCKET: bucket,
  SAI_S3_REGION: s3.region,
  SAI_S3_ACCESS_KEY_ID: s3.accessKeyId,
  SAI_S3_SECRET_ACCESS_KEY: s3.secretAccessKey
}
const cli = new URL('../../../dist/cli.js', import.meta.url).pathname
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
let prefixes = 0
/** A driver on a prefix of its own: the tests do not see each other's objects. */
const fresh = (extra: Partial<S3DriverInit> = {}): S3Driver =>
  new S3Driver({ ...init, prefix: `t${++prefixes}-${Date.now().toString(36)}/`, ...extra })

beforeAll(async () => {
  await raw.send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => {
  raw.destroy()
})

const damage = async (storage: ImageStorage, hash: string, keep: number): Promise<void> => {
  const key = (storage as S3Driver).prefix + storage.keyOf(hash)
  const whole = await storage.fetch(hash)
  await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: whole.subarray(0, keep) }))
}
describeImageStorage(
  { name: `S3Driver (${s3.endpoint})`, create: () => fresh(), timeout: 60_000, damage },
  { describe, it, expect }
)

describe('S3Driver on a real RADOS Gateway', () => {
  it('keys are the filesystem layout under the prefix; hash is the SHA-256; path is s3://bucket/key', async () => {
    const storage = fresh({ prefix: 'frames' })
    const jpeg = testJpeg(`layout ${Date.now()}`)
    const h = sha256(jpeg)
    const result = await storage.store(jpeg)
    expect(result).toMatchObject({
      hash: h,
      sha256: h,
      key: `${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.jpg`,
      path: `s3://${bucket}/frames/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.jpg`,
      isDuplicate: false,
      mimeType: 'image/jpeg'
    })
    const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: `frames/${result.key}` }))
    expect(head).toMatchObject({
      ContentLength: jpeg.length,
      ContentType: 'image/jpeg',
      ETag: `"${createHash('md5').update(jpeg).digest('hex')}"`
    })
    // a tree copied in by another tool (no metadata of ours) is a valid store
    const other = testJpeg(`copied in ${Date.now()}`)
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: `frames/${storage.keyOf(sha256(other))}`, Body: other }))
    expect(Buffer.compare(await storage.fetch(sha256(other)), other)).toBe(0)
    const stat = await storage.stat(sha256(other))
    expect(stat).toMatchObject({ size: other.length, mimeType: 'image/jpeg', storedAt: undefined })
    expect(stat.lastStoredAt!.getTime()).toBeGreaterThan(Date.now() - 60_000)
    expect((await storage.store(other)).isDuplicate).toBe(true)
  })

  it('three processes storing one new image at once: exactly one writes it (If-None-Match), the others are duplicates', async () => {
    for (let round = 0; round < 3; round++) {
      const storage = fresh()
      const seed = `s3 race ${round} ${Date.now()}`
      const startAt = Date.now() + 1500
      const children = [0, 1, 2].map(() =>
        startChild('race', { s3: { ...init, prefix: storage.prefix }, seed, size: 300_000, count: 2, startAt })
      )
      expect(await Promise.all(children.map(async c => await c.done))).toEqual([0, 0, 0])
      const results = children.flatMap(c => c.lines())
      expect(results).toHaveLength(6)
      expect(results.filter(r => r.isDuplicate === false)).toHaveLength(1)
      expect(Buffer.compare(await storage.fetch(results[0].sha256), testJpeg(seed, 300_000))).toBe(0)
    }
  })

  it('bytes changed in the bucket are ERR_INTEGRITY on fetch and fetchStream; verify finds them; a store replaces them', async () => {
    const storage = fresh()
    const jpeg = testJpeg(`tamper ${Date.now()}`, 200_000)
    const { hash, key } = await storage.store(jpeg)
    const bad = Buffer.from(jpeg)
    bad[100_000] ^= 0xff
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: storage.prefix + key, Body: bad }))
    await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    const chunks: Buffer[] = []
    const streamed = await (async () => {
      for await (const chunk of await storage.fetchStream(hash)) chunks.push(chunk as Buffer)
    })().catch(err => err)
    expect(streamed).toMatchObject({ code: 'ERR_INTEGRITY' })
    expect(Buffer.concat(chunks).length).toBeLessThan(jpeg.length) // never all of the wrong bytes
    expect((await storage.verify()).problems).toEqual([{ reason: 'corrupt', key, path: storage.pathOf(hash) }])

    expect(await storage.store(jpeg)).toMatchObject({ isDuplicate: false }) // replaced, as on the filesystem
    expect(Buffer.compare(await storage.fetch(hash), jpeg)).toBe(0)
    // an empty object (a writer that died at 0 bytes on some gateway) is replaced as well
    // (present and damaged, as on every driver: exists and stat see it, fetch and verify judge it)
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: storage.prefix + key, Body: Buffer.alloc(0) }))
    expect(await storage.exists(hash)).toBe(true)
    expect(await storage.stat(hash)).toMatchObject({ size: 0 })
    await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    expect((await storage.verify()).problems).toEqual([{ reason: 'empty', key, path: storage.pathOf(hash) }])
    expect(await storage.store(jpeg)).toMatchObject({ isDuplicate: false })
    expect(await storage.verify()).toMatchObject({ checked: 1, clean: true })
  })

  it('an object over maxBytes (copied in by another tool) is fetched whole and verified; the same bytes offered to store are ERR_TOO_LARGE', async () => {
    const storage = fresh({ maxBytes: 100_000 })
    const jpeg = testJpeg(`large ${Date.now()}`, 350_000)
    const key = storage.keyOf(sha256(jpeg))
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: storage.prefix + key, Body: jpeg }))
    expect(Buffer.compare(await storage.fetch(sha256(jpeg)), jpeg)).toBe(0)
    await expect(storage.store(jpeg)).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' })
    const bad = Buffer.from(jpeg)
    bad[300_000] ^= 0x01
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: storage.prefix + key, Body: bad }))
    await expect(storage.fetch(sha256(jpeg))).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
  })

  it('verify --repair moves damaged objects to .quarantine; the CLI exits 1, then 0', async () => {
    const storage = fresh()
    const jpeg = testJpeg(`quarantine ${Date.now()}`)
    const { hash, key } = await storage.store(jpeg)
    await raw.send(
      new PutObjectCommand({ Bucket: bucket, Key: storage.prefix + key, Body: Buffer.from('not the bytes') })
    )
    const run = (...args: string[]): { status: number | null; out: any } => {
      try {
        return {
          status: 0,
          out: JSON.parse(
            execFileSync(process.execPath, [cli, 'verify', '--driver', 's3', '--json', ...args], {
              env: { ...env, SAI_S3_PREFIX: storage.prefix },
              encoding: 'utf8'
            })
          )
        }
      } catch (err: any) {
        return { status: err.status, out: JSON.parse(err.stdout) }
      }
    }
    expect(run()).toMatchObject({
      status: 1,
      out: { checked: 1, clean: false, problems: [{ reason: 'corrupt', key }] }
    })
    // quarantined: the frame is lost from the store, so the repair is not clean either
    const repaired = run('--repair')
    expect(repaired).toMatchObject({
      status: 1,
      out: { clean: false, quarantined: 1, problems: [{ reason: 'corrupt', action: 'quarantined' }] }
    })
    expect(repaired.out.problems[0].movedTo).toMatch(
      new RegExp(`^s3://${bucket}/${storage.prefix}\\.quarantine/${hash}\\.\\d+\\.corrupt$`)
    )
    expect(run()).toMatchObject({ status: 0, out: { checked: 0, clean: true, quarantine: { objects: 1 } } })
    expect(await storage.exists(hash)).toBe(false)
    await expect(storage.fetch(hash)).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringContaining('a repair quarantined it')
    })
    const [entry] = await all(storage.quarantine.list())
    expect(entry).toMatchObject({ sha256: hash, reason: 'corrupt', size: 'not the bytes'.length })
    // bytes that do not match their name are refused back, and stay in the quarantine
    await expect(storage.quarantine.restore(entry!.id)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    expect(await storage.exists(hash)).toBe(false)
    expect(await all(storage.quarantine.list())).toHaveLength(1)
    // unless forced: an operator who wants them back on purpose
    expect(await storage.quarantine.restore(entry!.id, { force: true })).toBe(true)
    expect(await storage.exists(hash)).toBe(true)
    expect(await all(storage.quarantine.list())).toEqual([])
  })

  it('a repair that would quarantine most of the bucket is a storm: nothing moves unless forced', async () => {
    const storage = fresh()
    const stored = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => await storage.store(testJpeg(`storm ${i} ${Date.now()}`)))
    )
    // every object altered at once (a proxy rewriting bodies, another tool writing the prefix): no bit rot
    for (const { key } of stored)
      await raw.send(
        new PutObjectCommand({ Bucket: bucket, Key: storage.prefix + key, Body: Buffer.from('not the bytes') })
      )
    const refused = await storage.verify({ repair: true })
    expect(refused).toMatchObject({
      checked: 12,
      clean: false,
      quarantined: 0,
      storm: { found: 12, objects: 12, refused: true }
    })
    expect(refused.storm!.cause).toMatch(/force/)
    expect(await all(storage.quarantine.list())).toEqual([])
    const forced = await storage.verify({ repair: true, force: true })
    expect(forced).toMatchObject({ quarantined: 12, clean: false })
    expect(forced.storm).toBeUndefined()
    expect(await all(storage.quarantine.list())).toHaveLength(12)
  })

  it('bytes altered in flight (a proxy flips one bit) are refused by the server: nothing is stored', async () => {
    const target = new URL(s3.endpoint)
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = []
      req
        .on('data', (chunk: Buffer) => chunks.push(chunk))
        .on('end', () => {
          const body = Buffer.concat(chunks)
          if (req.method === 'PUT' && body.length > 1000) body[body.length >> 1] ^= 0x01
          const out = httpRequest(
            { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
            answer => {
              res.writeHead(answer.statusCode!, answer.headers)
              answer.pipe(res)
            }
          )
          out.end(body)
        })
    })
    const port = await listen(proxy)
    try {
      const storage = fresh({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 5000 })
      const jpeg = testJpeg(`in flight ${Date.now()}`, 100_000)
      const error = await storage.store(jpeg).catch(err => err)
      expect(error).toMatchObject({
        code: 'ERR_STORAGE_UNAVAILABLE',
        message: expect.stringMatching(/BadDigest|XAmzContentSHA256Mismatch/)
      })
      const direct = new S3Driver({ ...init, prefix: storage.prefix })
      expect(await direct.exists(sha256(jpeg))).toBe(false)
      await expect(
        raw.send(new HeadObjectCommand({ Bucket: bucket, Key: storage.prefix + storage.keyOf(sha256(jpeg)) }))
      ).rejects.toMatchObject({ name: 'NotFound' })
    } finally {
      proxy.close()
    }
  })

  it('migrate uploads as the drain does: a bit flipped on the wire is refused, nothing stored; a clean copy keeps its times', async () => {
    const target = new URL(s3.endpoint)
    let flip = true
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = []
      req
        .on('data', (chunk: Buffer) => chunks.push(chunk))
        .on('end', () => {
          const body = Buffer.concat(chunks)
          if (flip && req.method === 'PUT' && body.length > 1000) body[body.length >> 1] ^= 0x01
          const out = httpRequest(
            { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
            answer => {
              res.writeHead(answer.statusCode!, answer.headers)
              answer.pipe(res)
            }
          )
          out.end(body)
        })
    })
    const port = await listen(proxy)
    try {
      const from = new FilesystemDriver({ root: await tempDir() })
      const stored = await from.store(testJpeg(`migrate in flight ${Date.now()}`, 100_000))
      const to = fresh({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 5000 })
      await expect(copyObject(from, to, stored.hash)).rejects.toMatchObject({
        code: 'ERR_STORAGE_UNAVAILABLE',
        message: expect.stringMatching(/BadDigest|XAmzContentSHA256Mismatch/)
      })
      expect(await new S3Driver({ ...init, prefix: to.prefix }).exists(stored.hash)).toBe(false)
      flip = false
      const copied = await copyObject(from, to, stored.hash)
      expect(copied).toMatchObject({ sha256: stored.sha256, size: stored.size })
      const there = await new S3Driver({ ...init, prefix: to.prefix }).stat(stored.hash)
      expect(there.storedAt?.toISOString()).toBe((await from.stat(stored.hash)).storedAt!.toISOString())
      expect(sha256(await to.fetch(stored.hash))).toBe(stored.sha256)
    } finally {
      proxy.close()
    }
  })

  it('fetches through a proxy in front of the gateway: a 503 is asked once more, two are an error; a flipped bit is refused; a wrong secret is denied', async () => {
    const target = new URL(s3.endpoint)
    const jpeg = testJpeg(`fetched ${Date.now()}`, 300_000)
    let unavailable = 0 // GETs to answer 503 (SlowDown), then pass on
    let flip = false
    const gets: string[] = []
    const proxy = createServer((req, res) => {
      if (req.method === 'GET' && !req.url!.includes('list-type')) {
        gets.push(unavailable > 0 ? '503' : 'passed')
        if (unavailable > 0) {
          unavailable--
          req.resume()
          res
            .writeHead(503, { 'content-type': 'application/xml' })
            .end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>')
          return
        }
      }
      req.pipe(
        httpRequest(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
          answer => {
            res.writeHead(answer.statusCode!, answer.headers)
            if (!flip || req.method !== 'GET') return answer.pipe(res)
            const chunks: Buffer[] = []
            answer
              .on('data', (chunk: Buffer) => chunks.push(chunk))
              .on('end', () => {
                const body = Buffer.concat(chunks)
                body[body.length >> 1] ^= 0x01
                res.end(body)
              })
          }
        )
      )
    })
    const port = await listen(proxy)
    try {
      const storage = fresh({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 5000 })
      const { hash } = await storage.store(jpeg)
      gets.length = 0
      unavailable = 1
      expect((await storage.fetch(hash)).equals(jpeg)).toBe(true)
      expect(gets).toEqual(['503', 'passed'])
      gets.length = 0
      unavailable = 2
      await expect(storage.fetch(hash)).rejects.toMatchObject({
        code: 'ERR_STORAGE_UNAVAILABLE',
        message: expect.stringMatching(/SlowDown \(HTTP 503\): Please reduce/)
      })
      expect(gets).toEqual(['503', '503'])
      flip = true
      await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
      const streamed = await storage.fetchStream(hash)
      await expect(
        (async () => {
          for await (const _ of streamed);
        })()
      ).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
      flip = false
      await expect(storage.fetch(sha256(testJpeg('never stored')))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
      await expect(storage.fetchStream(sha256(testJpeg('never stored')))).rejects.toMatchObject({
        code: 'ERR_NOT_FOUND'
      })
      await storage.close()

      const secret = 'wrong-secret-for-a-get-9c1F'
      const wrong = new S3Driver({
        ...init,
        prefix: storage.prefix,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: secret }
      })
      const denied = await wrong.fetch(hash).catch(err => err)
      expect(denied).toMatchObject({
        code: 'ERR_STORAGE_UNAVAILABLE',
        message: expect.stringContaining('access denied')
      })
      for (const shown of [denied.message, denied.stack, inspect(denied, { depth: 9 }), JSON.stringify(denied)])
        expect(shown).not.toContain(secret)
      await wrong.close()
    } finally {
      proxy.close()
    }
  })

  it('storeKnown stores bytes under the SHA-256 given without hashing them here: the server checks it, and refuses bytes that do not match', async () => {
    const storage = fresh()
    const jpeg = testJpeg(`known ${Date.now()}`, 200_000)
    const h = sha256(jpeg)
    expect(await storage.storeKnown(jpeg, h.toUpperCase())).toMatchObject({
      hash: h,
      sha256: h,
      size: jpeg.length,
      mimeType: 'image/jpeg',
      isDuplicate: false
    })
    expect((await storage.fetch(h)).equals(jpeg)).toBe(true)
    expect(await storage.storeKnown(jpeg, h)).toMatchObject({ hash: h, isDuplicate: true })
    // a SHA-256 that is not the bytes': the gateway recomputes it from the body and refuses them
    const other = testJpeg(`not these bytes ${Date.now()}`, 200_000)
    const wrong = sha256(other)
    await expect(storage.storeKnown(jpeg, wrong)).rejects.toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining('XAmzContentSHA256Mismatch')
    })
    expect(await storage.exists(wrong)).toBe(false)
    await expect(
      raw.send(new HeadObjectCommand({ Bucket: bucket, Key: storage.prefix + storage.keyOf(wrong) }))
    ).rejects.toMatchObject({ name: 'NotFound' })
    // the checks of a store, without the hash
    await expect(storage.storeKnown(jpeg, 'abc')).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' })
    await expect(
      storage.storeKnown(Buffer.from('plain text, not an image'), sha256(Buffer.from('plain text, not an image')))
    ).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' })
    await expect(storage.storeKnown(jpeg, h, { maxBytes: 1000 })).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' })
  })

  it('a gateway that never answers, or stalls in the middle of a body, is ERR_STORAGE_UNAVAILABLE after timeoutMs', async () => {
    // a real socket that accepts and then says nothing (or half a body): faults a healthy Ceph will not make on demand
    const jpeg = testJpeg(`stalled ${Date.now()}`, 50_000)
    const sockets = new Set<Socket>()
    const silent = createNetServer(socket => {
      sockets.add(socket)
      socket.on('error', () => {})
    })
    const stalling = createServer((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length) })
      res.write(jpeg.subarray(0, 1000)) // then nothing more
    })
    try {
      for (const [server, call] of [
        [silent, 'exists'],
        [stalling, 'fetch']
      ] as const) {
        const port = await listen(server)
        const storage = fresh({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 1000 })
        const started = Date.now()
        const error = await storage[call](sha256(jpeg)).catch(err => err)
        const took = Date.now() - started
        expect(error).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('127.0.0.1') })
        expect(took).toBeGreaterThanOrEqual(900)
        expect(took).toBeLessThan(5000) // two attempts at most (maxAttempts 2)
        await storage.close()
      }
    } finally {
      for (const socket of sockets) socket.destroy()
      stalling.closeAllConnections()
      silent.close()
      stalling.close()
    }
  })

  it('a dead endpoint fails fast; a wrong secret is a typed error that shows no secret anywhere', async () => {
    const dead = fresh({ endpoint: `http://127.0.0.1:${await freePort()}` })
    const started = Date.now()
    const error = await dead.exists(sha256(testJpeg('dead'))).catch(err => err)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(error).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining(`bucket ${bucket}`)
    })
    expect(error.message).toContain('127.0.0.1')

    const secret = 'wrong-secret-Zq8XvT3pL0'
    const wrong = fresh({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: secret } })
    const denied = await wrong.store(testJpeg(`denied ${Date.now()}`)).catch(err => err)
    expect(denied).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('access denied') })
    for (const shown of [
      denied.message,
      denied.stack,
      inspect(denied, { depth: 9 }),
      JSON.stringify(denied),
      inspect(wrong, { depth: 9, showHidden: true }),
      JSON.stringify(wrong)
    ]) {
      expect(shown).not.toContain(secret)
    }
    // and from the environment: a malformed setting names the variable, never the value
    expect(() =>
      createImageStorage(
        {},
        { SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: bucket, SAI_S3_SECRET_ACCESS_KEY: secret }
      )
    ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.not.stringContaining(secret) }))
    expect(() => createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 's3' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', variable: 'SAI_S3_BUCKET' })
    )
    expect(() => createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: 'Bad_Bucket' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', variable: 'SAI_S3_BUCKET' })
    )
    expect(() =>
      createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: bucket, SAI_S3_TIMEOUT_MS: 'soon' })
    ).toThrow(expect.objectContaining({ variable: 'SAI_S3_TIMEOUT_MS' }))
    expect(() =>
      createImageStorage({}, { SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_BUCKET: bucket, SAI_S3_ENDPOINT: 'ftp://x' })
    ).toThrow(expect.objectContaining({ variable: 'SAI_S3_ENDPOINT' }))
  })

  it("without credentials given, stores (and reads) with those the SDK's chain finds: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", async () => {
    const dir = await tempDir('s3-chain')
    const jpeg = testJpeg(`chain ${Date.now()}`, 100_000)
    await writeFile(join(dir, 'frame.jpg'), jpeg)
    const { SAI_S3_ACCESS_KEY_ID, SAI_S3_SECRET_ACCESS_KEY, ...rest } = env
    const chained = {
      ...rest,
      SAI_IMAGE_STORAGE_DRIVER: 's3',
      SAI_S3_PREFIX: `chain-${Date.now()}/`,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_CONFIG_FILE: join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none')
    }
    const stored = JSON.parse(
      execFileSync(process.execPath, [cli, 'store', join(dir, 'frame.jpg'), '--json'], {
        env: chained,
        encoding: 'utf8'
      })
    )
    expect(stored).toMatchObject({ sha256: sha256(jpeg), isDuplicate: false })
    expect((await new S3Driver({ ...init, prefix: chained.SAI_S3_PREFIX }).fetch(sha256(jpeg))).equals(jpeg)).toBe(true)
    // a wrong secret from the chain is refused, and not shown
    const wrong = spawnSync(process.execPath, [cli, 'store', join(dir, 'frame.jpg'), '--json'], {
      env: {
        ...chained,
        SAI_S3_PREFIX: `chain-wrong-${Date.now()}/`,
        AWS_SECRET_ACCESS_KEY: 'not-the-secret-0123456789'
      },
      encoding: 'utf8'
    })
    expect(wrong.status).toBe(5) // ERR_STORAGE_UNAVAILABLE
    expect(JSON.parse(wrong.stdout)).toMatchObject({
      error: { code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('access denied') }
    })
    expect(wrong.stdout + wrong.stderr).not.toContain('not-the-secret-0123456789')
  })

  it('uploads go path style to an endpoint, virtual-hosted to AWS', () => {
    expect(bucketBase('http://127.0.0.1:7480', 'frames', true).href).toBe('http://127.0.0.1:7480/frames')
    expect(bucketBase('http://gw.lan/s3/', 'frames', true).href).toBe('http://gw.lan/s3/frames')
    expect(bucketBase('https://s3.eu-west-1.amazonaws.com', 'frames', false).href).toBe(
      'https://frames.s3.eu-west-1.amazonaws.com/'
    )
  })

  it('a missing bucket is ERR_STORAGE_UNAVAILABLE with a hint; a missing key is ERR_NOT_FOUND', async () => {
    const nowhere = new S3Driver({ ...init, bucket: `sai-missing-${Date.now()}` })
    await expect(nowhere.fetch(sha256(testJpeg('x')))).rejects.toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining('bucket does not exist')
    })
    await expect(nowhere.store(testJpeg('x'))).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    await expect(fresh().fetch(sha256(testJpeg('absent')))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  })

  it('is chosen by the factory from SAI_S3_*; url() gives a presigned link; the handler redirects to it', async () => {
    const prefix = `factory-${Date.now()}/`
    const storage = createImageStorage(
      {},
      { ...env, SAI_IMAGE_STORAGE_DRIVER: 's3', SAI_S3_PREFIX: prefix, SAI_S3_TIMEOUT_MS: '5000' }
    ) as S3Driver
    expect(storage).toBeInstanceOf(S3Driver)
    const jpeg = testJpeg(`presigned ${Date.now()}`)
    const { hash } = await storage.store(jpeg)
    const link = await storage.url(hash, { expiresIn: 60 })
    expect(link).toContain('X-Amz-Expires=60')
    const got = await fetch(link)
    expect(got.status).toBe(200)
    expect(Buffer.compare(Buffer.from(await got.arrayBuffer()), jpeg)).toBe(0)

    const server = createServer(createImageHandler(storage, { redirect: { expiresIn: 120 } }))
    const port = await listen(server)
    try {
      const answer = await fetch(`http://127.0.0.1:${port}/images/${hash}`, { redirect: 'manual' })
      expect(answer.status).toBe(302)
      expect(answer.headers.get('cache-control')).toBe('private, max-age=60')
      const followed = await fetch(answer.headers.get('location')!)
      expect(Buffer.compare(Buffer.from(await followed.arrayBuffer()), jpeg)).toBe(0)
      expect(
        (await fetch(`http://127.0.0.1:${port}/images/${sha256(Buffer.from('nothing'))}`, { redirect: 'manual' }))
          .status
      ).toBe(404)
    } finally {
      server.close()
    }
  })

  it('sai-images migrate --from fs --to s3, killed midway, resumes; stats and back to fs', async () => {
    const root = await tempDir()
    const fs = new FilesystemDriver({ root })
    const images = Array.from({ length: 40 }, (_, i) => testJpeg(`migrate ${i} ${Date.now()}`, 30_000))
    for (const image of images) await fs.store(image)
    const prefix = `migrate-${Date.now()}/`
    const mapping = join(await tempDir(), 'map.jsonl')
    const args = [
      cli,
      'migrate',
      '--from',
      'fs',
      '--to',
      's3',
      '--root',
      root,
      '--mapping',
      mapping,
      '--json',
      '--concurrency',
      '1'
    ]
    const childEnv = { ...env, SAI_S3_PREFIX: prefix }
    // killed once a few objects are across
    const first = spawn(process.execPath, args, { env: childEnv, stdio: 'ignore' })
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline && ((await readFile(mapping, 'utf8').catch(() => '')).match(/\n/g)?.length ?? 0) < 5)
      await new Promise(resolve => setTimeout(resolve, 20))
    first.kill('SIGKILL')
    await new Promise(resolve => first.once('close', resolve))
    const copiedBefore = (await readFile(mapping, 'utf8')).trim().split('\n').length
    expect(copiedBefore).toBeGreaterThanOrEqual(5)
    expect(copiedBefore).toBeLessThan(40)

    const summary = JSON.parse(execFileSync(process.execPath, args, { env: childEnv, encoding: 'utf8' }))
    expect(summary).toMatchObject({ total: 40, failed: [] })
    expect(summary.skipped).toBeGreaterThanOrEqual(copiedBefore)
    const target = new S3Driver({ ...init, prefix })
    for (const image of images) expect(Buffer.compare(await target.fetch(sha256(image)), image)).toBe(0)
    const stats = JSON.parse(
      execFileSync(process.execPath, [cli, 'stats', '--driver', 's3', '--json'], { env: childEnv, encoding: 'utf8' })
    )
    expect(stats).toMatchObject({ objects: 40, bytes: images.reduce((sum, image) => sum + image.length, 0) })

    const back = await tempDir()
    const returned = JSON.parse(
      execFileSync(
        process.execPath,
        [
          cli,
          'migrate',
          '--from',
          's3',
          '--to',
          'fs',
          '--to-root',
          back,
          '--mapping',
          join(back, 'back.jsonl'),
          '--json'
        ],
        { env: childEnv, encoding: 'utf8' }
      )
    )
    expect(returned).toMatchObject({ total: 40, failed: [] })
    expect((await new FilesystemDriver({ root: back }).verify()).checked).toBe(40)
    // a store onto itself is refused
    expect(() =>
      execFileSync(
        process.execPath,
        [cli, 'migrate', '--from', 's3', '--to', 's3', '--mapping', join(back, 'self.jsonl')],
        { env: childEnv, stdio: 'pipe' }
      )
    ).toThrow(/the target is the source store/)
  })

  it('prune by age on S3, from the listing alone; stores racing in another process keep every object they stored', async () => {
    const seen = { renewed: 0, deleted: 0, stores: 0 }
    for (let round = 0; round < 3; round++) {
      const storage = fresh()
      const seeds = Array.from({ length: 16 }, (_, i) => `s3 prune ${round} ${i} ${Date.now()}`)
      for (const seed of seeds) await storage.store(testJpeg(seed, 20_000))
      // Last-Modified is the server's, and cannot be set back: the objects are made old by waiting
      await new Promise(resolve => setTimeout(resolve, 2500))
      const restored = seeds.filter((_, i) => i % 2 === 0)
      const startAt = Date.now() + 300
      const storer = startChild('restore', {
        s3: { ...init, prefix: storage.prefix },
        seeds: restored,
        size: 20_000,
        startAt,
        until: startAt + 1500
      })
      await new Promise(resolve => setTimeout(resolve, startAt - Date.now()))
      const report = await prune(storage, { olderThan: 2000, minAgeMs: 0 })
      const code = await storer.done
      const stores = storer.lines()
      expect({ code, errors: stores.filter(s => s.error !== undefined) }).toEqual({ code: 0, errors: [] })
      expect(stores.length).toBeGreaterThan(0)
      // every image whose store resolved is there, intact
      for (const seed of restored) {
        const jpeg = testJpeg(seed, 20_000)
        if (stores.some(s => s.sha256 === sha256(jpeg)))
          expect(Buffer.compare(await storage.fetch(sha256(jpeg)), jpeg)).toBe(0)
      }
      // those never stored again are gone
      for (const seed of seeds.filter((_, i) => i % 2 === 1))
        expect(await storage.exists(sha256(testJpeg(seed, 20_000)))).toBe(false)
      expect(report.deleted).toBeGreaterThanOrEqual(8)
      expect((await storage.verify()).clean).toBe(true) // no claim left behind
      seen.renewed += report.renewed
      seen.deleted += report.deleted
      seen.stores += stores.length
    }
    console.log(
      `s3 prune race: ${seen.stores} stores during 3 prunes; ${seen.deleted} deleted, ${seen.renewed} found renewed and kept`
    )
  })

  it('a duplicate store moves Last-Modified to a later second, so that a prune comparing whole seconds always sees it', async () => {
    const storage = fresh()
    const jpeg = testJpeg(`renewal second ${Date.now()}`, 5000)
    const first = await storage.store(jpeg)
    const before = (await storage.stat(first.hash)).lastStoredAt!
    expect((await storage.store(jpeg)).isDuplicate).toBe(true) // at once: within the same second, most often
    const after = (await storage.stat(first.hash)).lastStoredAt!
    expect(Math.floor(after.getTime() / 1000)).toBeGreaterThan(Math.floor(before.getTime() / 1000))
    // and a prune that listed it before the renewal keeps it
    expect(await storage.deleteIfNotRenewed(first.hash, before)).toBe(false)
    expect(await storage.exists(first.hash)).toBe(true)
    expect(await storage.deleteIfNotRenewed(first.hash, after)).toBe(true)
  })
})

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

async function listen(server: Server | NetServer): Promise<number> {
  return await new Promise(resolve =>
    server.listen(0, '127.0.0.1', () => {
      resolve((server.address() as { port: number }).port)
    })
  )
}
