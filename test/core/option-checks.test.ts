// Options and arguments from JavaScript or JSON (no TypeScript to catch them): refused where they are given, with a
// typed error, never taken as something else (core/checks.ts).
import { createReadStream } from 'node:fs'
import { utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../src/drivers/ipfs/index.js'
import { MemoryDriver } from '../../src/drivers/memory/index.js'
import { S3Driver } from '../../src/drivers/s3/index.js'
import { createImageStorage } from '../../src/features/factory/index.js'
import { createImageHandler } from '../../src/features/http/index.js'
import { createReplicatedStorage } from '../../src/features/replication/index.js'
import { RefSet } from '../../src/features/retention/keep.js'
import { prune } from '../../src/features/retention/prune.js'
import { createVariants } from '../../src/features/variants/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'

const DAY = 86_400_000

/** The error `work` throws (or rejects with). */
async function failure(work: () => unknown): Promise<{ code?: string; message?: string; option?: string }> {
  try {
    await work()
  } catch (err) {
    return err as { code?: string; message?: string; option?: string }
  }
  throw new Error('expected a failure')
}

describe('options given in code are checked where they are given', () => {
  it('the factory refuses a driver it does not know and an empty root, instead of a filesystem store here', async () => {
    const any = createImageStorage as (options: object, env: object) => unknown
    expect(await failure(() => any({ driver: 'S3', bucket: 'frames' }, {}))).toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('expected one of "fs", "memory", "ipfs", "s3", got "S3"')
    })
    expect(await failure(() => any({ driver: 'fs', root: '' }, {}))).toMatchObject({
      code: 'ERR_CONFIG',
      option: 'root'
    })
    expect(await failure(() => new FilesystemDriver({ root: 7 as unknown as string }))).toMatchObject({
      code: 'ERR_CONFIG'
    })
  })

  it.each([Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 2.5])('a store refuses maxBytes %s per call', async max => {
    const storage = new MemoryDriver()
    expect(await failure(() => storage.store(testJpeg('per call', 5000), { maxBytes: max }))).toMatchObject({
      code: 'ERR_CONFIG',
      option: 'maxBytes'
    })
    const listed = []
    for await (const entry of storage.list()) listed.push(entry)
    expect(listed).toEqual([])
  })

  it('kept times that are no Date (a string from JSON, an invalid Date) are refused before any write', async () => {
    for (const storage of [new MemoryDriver(), new FilesystemDriver({ root: await tempDir() })]) {
      const bytes = testJpeg(`kept times ${storage.driver}`, 5000)
      for (const keepTimes of [{ lastStoredAt: '2024-01-01' }, { storedAt: new Date(Number.NaN) }]) {
        const store = () => storage.store(bytes, { keepTimes } as object)
        expect(await failure(store)).toMatchObject({
          code: 'ERR_INVALID_INPUT',
          message: expect.stringMatching(/^keepTimes\.(lastStoredAt|storedAt): expected a Date that holds a time/)
        })
      }
      expect((await storage.store(bytes)).isDuplicate).toBe(false) // nothing was stored, nothing half-made
      expect((await storage.store(bytes)).isDuplicate).toBe(true)
    }
  })

  it('replication refuses a concurrency that would copy nothing, an ack of "2", a NaN ack timeout', async () => {
    const primary = new FilesystemDriver({ root: await tempDir() })
    const replicas = [{ name: 'copy', storage: new FilesystemDriver({ root: await tempDir() }) }]
    for (const [option, value] of [
      ['concurrency', 0],
      ['concurrency', Number.NaN],
      ['ack', '2'],
      ['ackTimeoutMs', Number.NaN]
    ] as const) {
      const made = () => createReplicatedStorage({ primary, replicas, [option]: value } as never)
      expect(await failure(made)).toMatchObject({ code: 'ERR_CONFIG', option })
    }
    const env = { SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir() }
    const fromFactory = () => createImageStorage({ root: primary.root, copyConcurrency: 0 }, env)
    expect(await failure(fromFactory)).toMatchObject({ code: 'ERR_CONFIG', option: 'copyConcurrency' })
  })

  it('variants refuse a concurrency of 0 (every get would wait for ever) and a timeout sharp refuses', async () => {
    const storage = new MemoryDriver()
    const path = await tempDir()
    for (const [option, value] of [
      ['concurrency', 0],
      ['timeoutSeconds', 4000],
      ['maxInputPixels', Number.NaN]
    ] as const) {
      expect(await failure(() => createVariants(storage, { path, [option]: value }))).toMatchObject({
        code: 'ERR_CONFIG',
        option
      })
    }
  })

  it('the IPFS and S3 drivers refuse a timeout of 0 or NaN, and IPFS a URL whose password holds a bare %', async () => {
    for (const timeoutMs of [0, Number.NaN]) {
      expect(await failure(() => new IpfsDriver({ timeoutMs }))).toMatchObject({
        code: 'ERR_CONFIG',
        option: 'timeoutMs'
      })
      const s3 = () => new S3Driver({ bucket: 'frames', timeoutMs })
      expect(await failure(s3)).toMatchObject({ code: 'ERR_CONFIG', option: 'timeoutMs' })
    }
    const refused = await failure(() => new IpfsDriver({ url: 'http://admin:50%off@127.0.0.1:5001' }))
    expect(refused).toMatchObject({ code: 'ERR_CONFIG', option: 'url' })
    expect(refused.message).not.toContain('50%off')
    // an escaped % is a password like any other
    expect(new IpfsDriver({ url: 'http://admin:50%25off@127.0.0.1:5001' }).location).toBe('http://127.0.0.1:5001')
  })
})

describe('arguments of a call', () => {
  it("the caller's stream failing (a missing file's read stream) is bad input naming it, on every driver", async () => {
    const missing = join(await tempDir(), 'missing.jpg')
    for (const storage of [new MemoryDriver(), new FilesystemDriver({ root: await tempDir() })]) {
      const error = await failure(() => storage.store(createReadStream(missing)))
      expect({ driver: storage.driver, error }).toMatchObject({
        driver: storage.driver,
        error: { code: 'ERR_INVALID_INPUT', message: `Cannot read ${missing}: no such file or directory (ENOENT)` }
      })
    }
  })

  it('list takes a prefix in either case, and refuses one that is no hex', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const { hash } = await storage.store(testJpeg('prefix case'))
    const listed = async (prefix: unknown): Promise<string[]> => {
      const out: string[] = []
      for await (const entry of storage.list({ prefix } as object)) out.push(entry.hash)
      return out
    }
    expect(await listed(hash.slice(0, 3).toUpperCase())).toEqual([hash])
    for (const prefix of ['xyz', 5, `${hash}0`])
      expect(await failure(() => listed(prefix))).toMatchObject({ code: 'ERR_INVALID_INPUT' })
  })

  it('a presigned link, or a redirect, beyond 7 days (SigV4 links last no longer) is refused', async () => {
    const s3 = new S3Driver({
      bucket: 'frames',
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'k', secretAccessKey: 's' }
    })
    const hash = 'ab'.repeat(32)
    expect(await failure(() => s3.url!(hash, { expiresIn: 8 * 86_400 }))).toMatchObject({ code: 'ERR_CONFIG' })
    expect(await failure(() => s3.url!(hash, { expiresIn: Number.NaN }))).toMatchObject({ code: 'ERR_CONFIG' })
    expect(await failure(() => createImageHandler(s3, { redirect: { expiresIn: -1 } }))).toMatchObject({
      code: 'ERR_CONFIG',
      option: 'redirect.expiresIn'
    })
  })

  it('verify refuses a subset that would check nothing and say clean', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    await storage.store(testJpeg('subset'))
    for (const subset of [
      { index: 0, count: 0 },
      { index: 5, count: 3 },
      { index: -1, count: 3 },
      { index: 0.5, count: 3 }
    ])
      expect(await failure(() => storage.verify({ subset }))).toMatchObject({ code: 'ERR_CONFIG' })
    expect((await storage.verify({ subset: { index: 0, count: 1 } })).checked).toBe(1)
  })
})

describe("prune's keep refs", () => {
  it('a key path (a store result key) protects its frame; a ref that names nothing is refused before any delete', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const kept = await storage.store(testJpeg('keep by key', 3000))
    const other = await storage.store(testJpeg('not kept', 3000))
    const old = new Date(Date.now() - 40 * DAY)
    for (const { path } of [kept, other]) await utimes(path, old, old)
    const refused = await failure(() => prune(storage, { olderThan: 30 * DAY, minAgeMs: 0, keep: [kept.path] }))
    expect(refused).toMatchObject({ code: 'ERR_INVALID_INPUT', message: expect.stringContaining('names no object') })
    expect([await storage.exists(kept.hash), await storage.exists(other.hash)]).toEqual([true, true])
    for (const wrong of [{ minAgeMs: Number.NaN }, { now: Date.now() }])
      expect(await failure(() => prune(storage, { olderThan: 30 * DAY, ...wrong } as object))).toMatchObject({
        code: 'ERR_CONFIG'
      })
    const report = await prune(storage, { olderThan: 30 * DAY, minAgeMs: 0, keep: [kept.key] })
    expect(report).toMatchObject({ protected: 1, deleted: 1 })
    expect([await storage.exists(kept.hash), await storage.exists(other.hash)]).toEqual([true, false])
  })

  it('RefSet takes a SHA-256 in either case, a key path at any depth, a CID; refuses anything else', () => {
    const sha256 = 'ab'.repeat(32)
    for (const ref of [sha256.toUpperCase(), `ab/ab/${sha256}.jpg`, `${sha256}.jpg`, ` ${sha256} `]) {
      const set = new RefSet()
      set.add(ref)
      expect({ ref, has: set.has(sha256) }).toEqual({ ref, has: true })
    }
    for (const ref of ['sha256:' + sha256, `cd/${sha256}.jpg`, 'frame-12.jpg', 12 as unknown as string])
      expect(() => new RefSet().add(ref)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_INPUT' }))
  })
})
