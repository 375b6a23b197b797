/**
 * The S3 adapter (adapter.ts): the layout, storeKnown, url(), against a real Ceph RADOS Gateway (or the S3
 * that SAI_TEST_S3_* names).
 */
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { createImageStorage } from '../../../src/features/factory/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { bucket, raw, sha256, fresh, listen, useBucket, env } from './helpers.js'

useBucket()

describe('the S3 adapter (adapter.ts): the layout, storeKnown, url()', () => {
  it(
    'keys are the filesystem layout under the prefix; hash is the SHA-256; url (and path) ' + 'is s3://bucket/key',
    async () => {
      const storage = fresh({ prefix: 'frames' })
      const jpeg = testJpeg(`layout ${Date.now()}`)
      const h = sha256(jpeg)
      const result = await storage.store(jpeg)
      expect(result).toMatchObject({
        hash: h,
        sha256: h,
        key: `${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.jpg`,
        url: `s3://${bucket}/frames/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.jpg`,
        path: `s3://${bucket}/frames/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.jpg`, // deprecated: url's alias
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
      await raw.send(
        new PutObjectCommand({ Bucket: bucket, Key: `frames/${storage.keyOf(sha256(other))}`, Body: other })
      )
      expect(Buffer.compare(await storage.fetch(sha256(other)), other)).toBe(0)
      const stat = await storage.stat(sha256(other))
      expect(stat).toMatchObject({ size: other.length, mimeType: 'image/jpeg', storedAt: undefined })
      expect(stat.lastStoredAt!.getTime()).toBeGreaterThan(Date.now() - 60_000)
      expect((await storage.store(other)).isDuplicate).toBe(true)
    }
  )

  it(
    'storeKnown stores bytes under the SHA-256 given without hashing them here: the ' +
      'server checks it, and refuses bytes that do not match',
    async () => {
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
    }
  )

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
})
