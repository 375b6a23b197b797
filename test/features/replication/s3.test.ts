// Replication from the real filesystem to the real Ceph RADOS Gateway: SIGKILLs of the replicating
// process, a gateway stopped under 500 stores, eviction against a tampered replica, stores racing
// replication and eviction in other processes, and the HTTP handler serving an evicted frame.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { utimes } from 'node:fs/promises'
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { S3Driver, type S3DriverInit } from '../../../src/drivers/s3/index.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { describeImageStorage, testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const s3 = inject('s3')
const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
const bucket = `sai-repl-${Date.now().toString(36)}`
const base: S3DriverInit = {
  endpoint: s3.endpoint,
  region: s3.region,
  bucket,
  credentials,
  forcePathStyle: true,
  timeoutMs: 5000
}
const raw = new S3Client({
  endpoint: s3.endpoint,
  region: s3.region,
  credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED'
})
const CLI = join(ROOT, 'dist/cli.js')
const DAY = 24 * 3600 * 1000
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
let prefixes = 0
const prefix = (): string => `r${++prefixes}-${Date.now().toString(36)}/`

/** A fs primary and an S3 replica of their own, and the environment that names them (for the CLI and children). */
async function setup(extra: { endpoint?: string } = {}): Promise<{
  root: string
  replica: S3Driver
  env: Record<string, string>
  storage: ReturnType<typeof createReplicatedStorage>
}> {
  const root = await tempDir('sai-repl')
  const p = prefix()
  const replica = new S3Driver({ ...base, prefix: p, ...extra })
  const env = {
    ...(process.env as Record<string, string>),
    SAI_IMAGE_STORAGE_PATH: root,
    SAI_IMAGE_STORAGE_REPLICAS: 's3',
    SAI_S3_ENDPOINT: extra.endpoint ?? s3.endpoint,
    SAI_S3_BUCKET: bucket,
    SAI_S3_PREFIX: p,
    SAI_S3_REGION: s3.region,
    SAI_S3_ACCESS_KEY_ID: s3.accessKeyId,
    SAI_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    SAI_S3_TIMEOUT_MS: '5000'
  }
  const storage = createReplicatedStorage({
    primary: new FilesystemDriver({ root }),
    replicas: [{ name: 's3', storage: replica }],
    background: false
  })
  return { root, replica, env, storage }
}

beforeAll(async () => {
  await raw.send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => {
  raw.destroy()
})

describeImageStorage(
  {
    name: 'ReplicatedStorage (fs to S3, the copier in the background)',
    create: async () =>
      createReplicatedStorage({
        primary: new FilesystemDriver({ root: await tempDir() }),
        replicas: [{ name: 's3', storage: new S3Driver({ ...base, prefix: prefix() }) }]
      }),
    timeout: 60_000
  },
  { describe, it, expect }
)

describe('replication to a real RADOS Gateway', () => {
  it('SIGKILLs of the replicating process at random moments, 20 of them, while stores go ' +
    'on: one drain and one reconcile later every frame is on S3, verified', async () => {
    const { replica, env } = await setup()
    const envOnly = { ...env, SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false' }
    const storer = startChild(
      'store-new',
      { fromEnv: true, seed: `kill ${Date.now()}`, count: 120, size: 30_000, delayMs: 40 },
      [],
      envOnly
    )
    let kills = 0
    for (; kills < 20; kills++) {
      const replicator = spawn(process.execPath, [CLI, 'replicate', '--watch', '--concurrency', '4'], {
        env: envOnly,
        stdio: 'ignore'
      })
      await new Promise(resolve => setTimeout(resolve, 100 + Math.random() * 500))
      replicator.kill('SIGKILL')
      await new Promise(resolve => replicator.once('close', resolve))
    }
    expect(await storer.done).toBe(0)
    const stored = storer.lines().map(line => line.sha256 as string)
    expect(stored).toHaveLength(120)
    const once = spawnSync(process.execPath, [CLI, 'replicate', '--json'], { env: envOnly, encoding: 'utf8' })
    expect(once.status).toBe(0)
    expect(JSON.parse(once.stdout)).toMatchObject({ pending: 0 })
    for (const hash of stored) expect(sha256(await replica.fetch(hash))).toBe(hash) // on S3, the exact bytes
    console.log(`replication kill test: ${kills} kills, ${stored.length} frames`)
  }, 240_000)

  // an external S3 (SAI_TEST_S3_*) cannot be stopped here: skipped, and counted so
  it.skipIf(s3.conf === undefined)(
    'a gateway stopped while 500 stores run: every store resolves, ' +
      'status shows the backlog, and after a restart it drains',
    async () => {
      const { startGateway } = (await import('../../infra/ceph/cluster.mjs' as string)) as {
        startGateway: (
          conf: string
        ) => Promise<{ endpoint: string; stop: () => Promise<void>; start: () => Promise<void> }>
      }
      const gateway = await startGateway(s3.conf!)
      const root = await tempDir()
      const replica = new S3Driver({ ...base, endpoint: gateway.endpoint, prefix: prefix(), timeoutMs: 2000 })
      const storage = createReplicatedStorage({
        primary: new FilesystemDriver({ root }),
        replicas: [{ name: 's3', storage: replica }]
      })
      await storage.store(testJpeg(`gateway up ${Date.now()}`))
      await gateway.stop()
      const frames = Array.from({ length: 500 }, (_, i) => testJpeg(`gateway down ${Date.now()} ${i}`, 5000))
      // every store resolves with the gateway down: none waits for its copy (all 500 are still pending below)
      const results = await Promise.all(frames.map(async frame => await storage.store(frame)))
      expect(results).toHaveLength(500)
      for (let wait = 0; wait < 50 && storage.status().replicas[0]!.failing === undefined; wait++)
        await new Promise(resolve => setTimeout(resolve, 100))
      const down = storage.status().replicas[0]!
      expect(down.pending).toBeGreaterThanOrEqual(500)
      expect(down.failing).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
      await gateway.start()
      const drained = await storage.drain()
      expect(drained).toMatchObject({ failed: [], pending: 0 })
      expect(storage.status().replicas[0]).toMatchObject({ pending: 0, failing: undefined })
      for (const result of results.slice(0, 50)) expect(sha256(await replica.fetch(result.hash))).toBe(result.sha256)
      await storage.close()
      await gateway.stop()
    },
    180_000
  )

  it(
    'eviction never removes a primary copy whose S3 copy was ' + 'tampered with (a raw client, just before) or deleted',
    async () => {
      const { replica, storage } = await setup()
      const frames = [0, 1, 2].map(i => testJpeg(`tamper ${Date.now()} ${i}`, 20_000))
      const stored = []
      for (const frame of frames) stored.push(await storage.store(frame))
      await storage.drain()
      for (const s of stored) await utimes(s.path, new Date(Date.now() - 60 * DAY), new Date(Date.now() - 60 * DAY))
      const flipped = Buffer.from(frames[0]!)
      flipped[10_000] ^= 0x01 // the same size: only a hash tells
      await raw.send(
        new PutObjectCommand({ Bucket: bucket, Key: replica.prefix + replica.keyOf(stored[0]!.hash), Body: flipped })
      )
      await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: replica.prefix + replica.keyOf(stored[1]!.hash) }))
      const report = await storage.evict({ olderThan: 30 * DAY })
      expect(report).toMatchObject({ evicted: 1, unsafe: 2 })
      expect(await Promise.all(stored.map(async s => await storage.primary.exists(s.hash)))).toEqual([
        true,
        true,
        false
      ])
      // the damaged and the missing copies are queued, and the next drain puts them right
      await storage.drain()
      for (const [i, s] of stored.entries()) expect(Buffer.compare(await replica.fetch(s.hash), frames[i]!)).toBe(0)
      await storage.close()
    }
  )

  it('a lost and a damaged last copy on S3 (evicted, then its S3 copy deleted or rewritten by a raw client): ' +
    'verify --subset, verify, whereis and status say so', async () => {
    const { replica, storage, env } = await setup()
    const frames = [0, 1].map(i => testJpeg(`last copy ${Date.now()} ${i}`, 20_000))
    const stored = []
    for (const frame of frames) stored.push(await storage.store(frame))
    await storage.drain()
    for (const s of stored) await utimes(s.path, new Date(Date.now() - 60 * DAY), new Date(Date.now() - 60 * DAY))
    expect(await storage.evict({ olderThan: 30 * DAY })).toMatchObject({ evicted: 2 })
    await storage.close()
    const [damaged, deleted] = stored.map(s => s.hash) as [string, string]
    const flipped = Buffer.from(frames[0]!)
    flipped[10_000] ^= 0x01 // the same size: only a hash tells
    await raw.send(
      new PutObjectCommand({ Bucket: bucket, Key: replica.prefix + replica.keyOf(damaged), Body: flipped })
    )
    await raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: replica.prefix + replica.keyOf(deleted) }))
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' })
    for (const args of [
      ['verify', '--subset', '0/1', '--json'],
      ['verify', '--json']
    ]) {
      const verify = run(...args)
      expect({ args, code: verify.status }).toEqual({ args, code: 1 })
      expect(JSON.parse(verify.stdout)).toMatchObject({ clean: false, copies: { lost: 2 } })
    }
    const where = { damaged: run('whereis', damaged), deleted: run('whereis', deleted) }
    expect([where.damaged.status, where.deleted.status]).toEqual([1, 1])
    expect(where.damaged.stdout).toMatch(/s3\s+DAMAGED/)
    expect(where.deleted.stdout).toMatch(/s3\s+MISSING/)
    expect(run('status').status).toBe(13)
  }, 60_000)

  it('stores racing replication and eviction in other processes: ' +
    'every store that resolves keeps its primary copy', async () => {
    const { root, env } = await setup()
    const seeds = Array.from({ length: 30 }, (_, i) => `race ${Date.now()} ${i}`)
    const first = startChild(
      'restore',
      { fromEnv: true, seeds, size: 8000, startAt: Date.now(), until: Date.now() + 300 },
      [],
      env
    )
    expect(await first.done).toBe(0)
    const envOnly = { ...env, SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false' }
    expect(spawnSync(process.execPath, [CLI, 'replicate'], { env: envOnly }).status).toBe(0)
    const primary = new FilesystemDriver({ root })
    for await (const entry of primary.list())
      await utimes(entry.path, new Date(Date.now() - 60 * DAY), new Date(Date.now() - 60 * DAY))
    // the race happened: frames evicted while stores resolved (else every check below passes on nothing)
    let evictedInAll = 0
    let resolvedInAll = 0
    for (let round = 0; round < 3; round++) {
      const startAt = Date.now() + 400
      const storers = [0, 1].map(i =>
        startChild(
          'restore',
          // each frame renewed about once a second: the eviction meets old frames, and renewals under way
          {
            fromEnv: true,
            seeds: seeds.filter((_, j) => j % 2 === i),
            size: 8000,
            startAt,
            until: startAt + 3000,
            delayMs: 60
          },
          [],
          env
        )
      )
      const replicator = spawn(process.execPath, [CLI, 'replicate', '--watch'], { env: envOnly, stdio: 'ignore' })
      // the eviction once both storers store: a loaded machine can take a second to start each
      while (storers.some(s => s.lines().length === 0) && Date.now() < startAt + 2500)
        await new Promise(resolve => setTimeout(resolve, 20))
      const evictStarted = Date.now()
      expect(evictStarted).toBeLessThan(startAt + 2500)
      const evicted = spawnSync(process.execPath, [CLI, 'evict', '--older-than', '30d', '--json'], {
        env: envOnly,
        encoding: 'utf8'
      })
      expect([0, 1]).toContain(evicted.status)
      evictedInAll += (JSON.parse(evicted.stdout) as { evicted: number }).evicted
      expect(await Promise.all(storers.map(async s => await s.done))).toEqual([0, 0])
      replicator.kill('SIGTERM')
      await new Promise(resolve => replicator.once('close', resolve))
      const resolvedDuring = new Set(
        storers
          .flatMap(s => s.lines())
          .filter(l => l.resolvedAt >= evictStarted)
          .map(l => l.sha256)
      )
      for (const hash of resolvedDuring)
        expect({ round, hash, primary: await primary.exists(hash) }).toEqual({ round, hash, primary: true })
      resolvedInAll += resolvedDuring.size
      for await (const entry of primary.list())
        await utimes(entry.path, new Date(Date.now() - 60 * DAY), new Date(Date.now() - 60 * DAY))
    }
    expect(evictedInAll).toBeGreaterThan(0)
    expect(resolvedInAll).toBeGreaterThan(0)
  }, 120_000)

  it(
    'the handler serves an evicted frame with the exact bytes and the ' +
      'same headers; with redirect, a presigned link to S3',
    async () => {
      const { storage } = await setup()
      const jpeg = testJpeg(`served ${Date.now()}`, 60_000)
      const { hash, path } = await storage.store(jpeg)
      await storage.drain()
      const serve = async (options: Parameters<typeof createImageHandler>[1] = {}): Promise<Response> => {
        const server = createServer(createImageHandler(storage, options))
        await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
        try {
          return await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/images/${hash}`, {
            redirect: 'manual'
          })
        } finally {
          server.close()
        }
      }
      const before = await serve()
      const bytesBefore = Buffer.from(await before.arrayBuffer())
      await utimes(path, new Date(Date.now() - 60 * DAY), new Date(Date.now() - 60 * DAY))
      expect(await storage.evict({ olderThan: 30 * DAY })).toMatchObject({ evicted: 1 })
      const after = await serve()
      expect(after.status).toBe(200)
      expect(Buffer.compare(Buffer.from(await after.arrayBuffer()), jpeg)).toBe(0)
      expect(Buffer.compare(bytesBefore, jpeg)).toBe(0)
      for (const header of ['etag', 'content-type', 'cache-control', 'content-length'])
        expect({ header, value: after.headers.get(header) }).toEqual({ header, value: before.headers.get(header) })
      const redirected = await serve({ redirect: { expiresIn: 60 } })
      expect(redirected.status).toBe(302)
      const location = redirected.headers.get('location')!
      expect(location).toContain(bucket)
      expect(Buffer.compare(Buffer.from(await (await fetch(location)).arrayBuffer()), jpeg)).toBe(0)
      expect(await storage.primary.exists(hash)).toBe(false) // served, not written back
      // its S3 copy damaged, met by a read: no link to it (the client would take its bytes unverified)
      const replica = storage.replicas[0]!.storage as S3Driver
      const key = replica.prefix + replica.keyOf(hash)
      await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: jpeg.subarray(0, 1000) }))
      await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
      expect((await serve({ redirect: { expiresIn: 60 } })).status).not.toBe(302)
      await expect(storage.url(hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
      await storage.close()
    }
  )
})
