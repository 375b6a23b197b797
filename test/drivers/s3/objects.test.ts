/**
 * Objects in the bucket (objects.ts): reads re-hashed, limits, what is missing, against a real Ceph RADOS Gateway (or
 * the S3
 * that SAI_TEST_S3_* names).
 */
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { bucket, raw, sha256, fresh, useBucket, init } from './helpers.js'

useBucket()

describe('objects in the bucket (objects.ts): reads re-hashed, limits, what is missing', () => {
  it(
    'bytes changed in the bucket are ERR_INTEGRITY on fetch and fetchStream; verify finds ' +
      'them; a store replaces them',
    async () => {
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
    }
  )

  it(
    'an object over maxBytes (copied in by another tool) is fetched whole and verified; ' +
      'the same bytes offered to store are ERR_TOO_LARGE',
    async () => {
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
    }
  )

  it('a missing bucket is ERR_STORAGE_UNAVAILABLE with a hint; a missing key is ERR_NOT_FOUND', async () => {
    const nowhere = new S3Driver({ ...init, bucket: `sai-missing-${Date.now()}` })
    await expect(nowhere.fetch(sha256(testJpeg('x')))).rejects.toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining('bucket does not exist')
    })
    await expect(nowhere.store(testJpeg('x'))).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    await expect(fresh().fetch(sha256(testJpeg('absent')))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
  })
})
