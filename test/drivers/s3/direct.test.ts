/**
 * Direct PUT and GET (direct.ts): signed payloads, retries, addressing, against a real Ceph RADOS Gateway (or the S3
 * that SAI_TEST_S3_* names).
 */
import { createServer } from 'node:http'
import { inspect } from 'node:util'
import { HeadObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { bucketBase, objectPath } from '../../../src/drivers/s3/direct.js'
import { copyObject } from '../../../src/features/jobs/migrate.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { all, bucket, forward, raw, s3, sha256, fresh, listen, useBucket, init } from './helpers.js'

useBucket()

describe('direct PUT and GET (direct.ts): signed payloads, retries, addressing', () => {
  it('bytes altered in flight (a proxy flips one bit) are refused by the server: nothing is stored', async () => {
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = []
      req
        .on('data', (chunk: Buffer) => chunks.push(chunk))
        .on('end', () => {
          const body = Buffer.concat(chunks)
          if (req.method === 'PUT' && body.length > 1000) body[body.length >> 1] ^= 0x01
          forward(req, res, body)
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

  it(
    'migrate uploads as the drain does: a bit flipped on the wire is refused, nothing ' +
      'stored; a clean copy keeps its times',
    async () => {
      let flip = true
      const proxy = createServer((req, res) => {
        const chunks: Buffer[] = []
        req
          .on('data', (chunk: Buffer) => chunks.push(chunk))
          .on('end', () => {
            const body = Buffer.concat(chunks)
            if (flip && req.method === 'PUT' && body.length > 1000) body[body.length >> 1] ^= 0x01
            forward(req, res, body)
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
    }
  )

  it(
    'fetches through a proxy in front of the gateway: a 503 is asked once more, two are ' +
      'an error; a flipped bit is refused; a wrong secret is denied',
    async () => {
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
        forward(req, res, undefined, answer => {
          if (!flip || req.method !== 'GET') return answer.pipe(res)
          const chunks: Buffer[] = []
          answer
            .on('data', (chunk: Buffer) => chunks.push(chunk))
            .on('end', () => {
              const body = Buffer.concat(chunks)
              body[body.length >> 1] ^= 0x01
              res.end(body)
            })
        })
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
    }
  )

  it('each listing page goes on a connection of its own; the uploads share kept-alive ones', async () => {
    // a kept-alive connection's delayed ACK held a page's end 40 ms behind the gateway's Nagle (direct.ts)
    let opened = 0
    const ids = new WeakMap<object, number>()
    const seen: Array<{ listing: boolean; connection: number }> = []
    const proxy = createServer((req, res) => {
      seen.push({ listing: req.url!.includes('list-type'), connection: ids.get(req.socket)! })
      forward(req, res)
    })
    proxy.on('connection', socket => ids.set(socket, ++opened))
    const port = await listen(proxy)
    try {
      const storage = fresh({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 5000 })
      for (let i = 0; i < 3; i++) await storage.store(testJpeg(`a connection of its own ${i} ${Date.now()}`))
      expect(await all(storage.list())).toHaveLength(3)
      await storage.store(testJpeg(`between the listings ${Date.now()}`))
      expect(await all(storage.list())).toHaveLength(4)
      await storage.close()
      const listings = seen.filter(r => r.listing)
      const others = seen.filter(r => !r.listing)
      expect(listings).toHaveLength(2)
      for (const { connection } of listings) expect(seen.filter(r => r.connection === connection)).toHaveLength(1)
      expect(new Set(others.map(r => r.connection)).size).toBeLessThan(others.length)
    } finally {
      proxy.close()
    }
  })

  it('uploads go path style to an endpoint, virtual-hosted to AWS', () => {
    expect(bucketBase('http://127.0.0.1:7480', 'frames', true).href).toBe('http://127.0.0.1:7480/frames')
    expect(bucketBase('http://gw.lan/s3/', 'frames', true).href).toBe('http://gw.lan/s3/frames')
    expect(bucketBase('https://s3.eu-west-1.amazonaws.com', 'frames', false).href).toBe(
      'https://frames.s3.eu-west-1.amazonaws.com/'
    )
  })

  it("an object's request path: under the bucket path style, at the root virtual-hosted (never `//key`)", () => {
    const key = 'ab/cd/x y.jpg'
    const paths = [
      objectPath(bucketBase('http://127.0.0.1:7480', 'frames', true), key),
      objectPath(bucketBase('http://gw.lan/s3/', 'frames', true), key),
      objectPath(bucketBase('https://s3.eu-west-1.amazonaws.com', 'frames', false), key),
      objectPath(bucketBase('https://s3.eu-west-1.amazonaws.com', 'frames', false), '')
    ]
    expect(paths).toEqual(['/frames/ab/cd/x%20y.jpg', '/s3/frames/ab/cd/x%20y.jpg', '/ab/cd/x%20y.jpg', '/'])
  })
})
