// Every read path of a replicated store takes the one read policy (reads.ts): fetch, fetchStream,
// exists, stat and the HTTP handler heal a missing or damaged primary copy from a verified replica
// copy, and a damaged last copy is ERR_INTEGRITY everywhere (a 500 from the handler), never "not found".
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { appendFile, readFile, rename, truncate, unlink, utimes, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { DAY, flip, keepingLogger, type Logged, type Pair, pair as pairOf } from './helpers.js'

async function pair(): Promise<Pair & { logged: Logged[] }> {
  const { logger, logged } = keepingLogger()
  return { ...(await pairOf({ logger })), logged }
}

const damage = {
  flipped: flip,
  truncated: async (path: string) => {
    await truncate(path, 1000)
  },
  deleted: unlink
}

async function streamed(storage: ReplicatedStorage, hash: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of await storage.fetchStream(hash)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address() as { port: number }
  return `http://127.0.0.1:${address.port}/`
}

/** A frame stored, copied to the replica, evicted from the primary: the replica holds the last copy. */
async function evicted(
  storage: ReplicatedStorage,
  primary: FilesystemDriver,
  seed: string
): Promise<{ hash: string; bytes: Buffer }> {
  const bytes = testJpeg(seed, 30_000)
  const { hash, path } = await storage.store(bytes)
  await storage.drain()
  await utimes(path, new Date(Date.now() - 40 * DAY), new Date(Date.now() - 40 * DAY))
  expect(await storage.evict({ olderThan: 30 * DAY })).toMatchObject({ evicted: 1 })
  expect(await primary.exists(hash)).toBe(false)
  return { hash, bytes }
}

describe('every read path heals the primary from a verified replica copy', () => {
  it(
    'a flipped byte, a truncated file and a deleted file on the primary ' +
      'are healed on the next fetch, with the exact bytes',
    async () => {
      const { storage, primary } = await pair()
      const frames = ['flipped', 'truncated', 'deleted'].map(seed => testJpeg(`heal ${seed}`, 50_000))
      const stored = []
      for (const frame of frames) stored.push(await storage.store(frame))
      await storage.drain()
      const bytes = await readFile(stored[0]!.path)
      bytes[25_000] ^= 0x10
      await writeFile(stored[0]!.path, bytes)
      await truncate(stored[1]!.path, 10_000)
      await unlink(stored[2]!.path)
      for (const [i, frame] of frames.entries()) {
        await expect(primary.fetch(stored[i]!.hash)).rejects.toMatchObject({
          code: i === 2 ? 'ERR_NOT_FOUND' : 'ERR_INTEGRITY'
        })
        expect(Buffer.compare(await storage.fetch(stored[i]!.hash), frame)).toBe(0)
        expect(Buffer.compare(await primary.fetch(stored[i]!.hash), frame)).toBe(0) // written back
      }
      expect(storage.status().heals.healed).toBe(3)
      const quarantined = []
      for await (const entry of primary.quarantine.list()) quarantined.push(entry.reason)
      expect(quarantined.sort()).toEqual(['healed', 'healed']) // the damaged files are kept, not deleted
      await storage.close()
    }
  )

  it('a replica that fails otherwise than "not found" is logged and the next one is asked', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
    const down = new FilesystemDriver({ root: join(await tempDir('sai-down'), 'unmounted'), createRoot: false })
    const replica = new FilesystemDriver({ root: await tempDir('sai-replica') })
    const { logger, logged } = keepingLogger()
    const storage = createReplicatedStorage({
      primary,
      replicas: [
        { name: 'down', storage: down },
        { name: 'copy', storage: replica }
      ],
      background: false,
      logger
    })
    const jpeg = testJpeg('policy', 20_000)
    const { hash } = await replica.store(jpeg)
    await storage.store(jpeg)
    await unlink(primary.pathOf(hash))
    expect(await storage.exists(hash)).toBe(true)
    expect(Buffer.compare(await storage.fetch(hash), jpeg)).toBe(0)
    const failed = logged.filter(l => l.fields.event === 'replication.replica-read-failed')
    expect(failed.length).toBeGreaterThan(0)
    for (const l of failed) expect(l).toMatchObject({ level: 'warn', fields: { replica: 'down', sha256: hash } })
    expect(await primary.exists(hash)).toBe(true) // healed from the copy that answered
    await storage.close()
  })

  for (const [how, harm] of Object.entries(damage)) {
    it(`fetchStream serves the exact bytes of a ${how} primary copy and writes them back`, async () => {
      const { storage, primary } = await pair()
      const bytes = testJpeg(`stream ${how}`, 80_000)
      const { hash, path } = await storage.store(bytes)
      await storage.drain()
      await harm(path)
      expect(Buffer.compare(await streamed(storage, hash), bytes)).toBe(0)
      expect(Buffer.compare(await primary.fetch(hash), bytes)).toBe(0) // healed
      expect(storage.status().heals.healed).toBe(1)
      await storage.close()
    })
  }

  it('stat of a frame lost from the primary (not evicted) heals it and answers the primary copy', async () => {
    const { storage, primary } = await pair()
    const bytes = testJpeg('stat heals', 20_000)
    const { hash, path } = await storage.store(bytes)
    await storage.drain()
    await unlink(path)
    expect(await storage.stat(hash)).toMatchObject({ hash, size: 20_000, path })
    expect(Buffer.compare(await primary.fetch(hash), bytes)).toBe(0)
    await storage.close()
  })

  it('the handler answers 200 with the exact bytes of a damaged primary copy, and heals it', async () => {
    const { storage, primary } = await pair()
    const bytes = testJpeg('handler heals', 40_000)
    const { hash, path } = await storage.store(bytes)
    await storage.drain()
    await flip(path)
    const server = createServer(createImageHandler(storage, { verifyBeforeSendBytes: 0 }))
    try {
      const response = await fetch((await listen(server)) + hash)
      expect(response.status).toBe(200)
      expect(Buffer.compare(Buffer.from(await response.arrayBuffer()), bytes)).toBe(0)
    } finally {
      server.close()
    }
    expect(Buffer.compare(await primary.fetch(hash), bytes)).toBe(0)
    await storage.close()
  })
})

describe('a damaged primary copy of another size, streamed (the length the answer announces is the stat of it)', () => {
  it.each([
    ['shorter', async (path: string) => await truncate(path, 1000)],
    ['longer', async (path: string) => await appendFile(path, Buffer.alloc(5000))]
  ])(
    '%s: the first answer is cut short or exact, never a whole body of other bytes; the next is exact',
    async (what, damage) => {
      const { storage, primary } = await pair()
      const bytes = testJpeg(`handler ${what}`, 40_000)
      const { hash, path } = await storage.store(bytes)
      await storage.drain()
      await damage(path)
      const server = createServer(createImageHandler(storage, { verifyBeforeSendBytes: 0 }))
      try {
        const url = (await listen(server)) + hash
        // a whole body is the frame's bytes, or the answer fails: cut short of the length it announced
        const first = await fetch(url)
          .then(async response => Buffer.from(await response.arrayBuffer()))
          .catch(() => 'cut' as const)
        if (first !== 'cut') expect(first.equals(bytes)).toBe(true)
        const next = await fetch(url)
        expect(next.status).toBe(200)
        expect(Buffer.from(await next.arrayBuffer()).equals(bytes)).toBe(true)
      } finally {
        server.close()
      }
      expect((await primary.fetch(hash)).equals(bytes)).toBe(true) // healed by the first answer's read
      await storage.close()
    }
  )
})

describe('a damaged last copy is ERR_INTEGRITY on every read path, never "not found"', () => {
  it(
    'evicted, its replica copy flipped: fetch, fetchStream and ' + 'the handler say so, and the logger is told',
    async () => {
      const { storage, primary, replica, logged } = await pair()
      const { hash } = await evicted(storage, primary, 'sole damaged')
      await flip(replica.pathOf(hash))
      await expect(storage.fetch(hash)).rejects.toMatchObject({
        code: 'ERR_INTEGRITY',
        message: expect.stringContaining('no good copy')
      })
      await expect(streamed(storage, hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
      expect(await storage.exists(hash)).toBe(true) // a copy is there, damaged: fetch and verify judge the bytes
      expect(
        logged.filter(l => l.fields.event === 'replication.no-good-copy' && l.level === 'error').length
      ).toBeGreaterThanOrEqual(2)
      for (const verifyBeforeSendBytes of [undefined, 0]) {
        const reported: string[] = []
        const onError = (err: unknown): void => {
          reported.push((err as { code: string }).code)
        }
        const server = createServer(createImageHandler(storage, { onError, verifyBeforeSendBytes }))
        try {
          const response = await fetch((await listen(server)) + hash)
          expect(response.status).toBe(500)
          expect(await response.text()).not.toContain('JFIF')
        } finally {
          server.close()
        }
        expect(reported).toEqual(['ERR_INTEGRITY'])
      }
      expect(await primary.exists(hash)).toBe(false) // nothing was "healed" from damaged bytes
      await storage.close()
    }
  )

  it('a damaged primary copy and no replica copy: ERR_INTEGRITY from fetch and fetchStream', async () => {
    const { storage, primary, replica } = await pair()
    const { hash, path } = await storage.store(testJpeg('primary only damaged', 20_000))
    await storage.drain()
    await replica.delete(hash)
    await flip(path)
    await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    await expect(streamed(storage, hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    expect(await primary.exists(hash)).toBe(true) // the damaged copy stays for an operator to see
    await storage.close()
  })

  it('a frame the primary lost, its only copy on a replica that is down: unavailable, never "not found"', async () => {
    const { storage, primary, replica } = await pair()
    const jpeg = testJpeg('only on the replica', 20_000)
    const { hash } = await storage.store(jpeg)
    await storage.drain()
    await unlink(primary.pathOf(hash)) // a bad sector, an rm
    const away = `${replica.root}.away`
    await rename(replica.root, away) // the replica's disk unmounted
    await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    await expect(storage.exists(hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    await expect(storage.stat(hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    await expect(storage.fetch('ab'.repeat(32))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' }) // never stored
    await rename(away, replica.root)
    expect(Buffer.compare(await storage.fetch(hash), jpeg)).toBe(0)
    await storage.close()
  })

  it('a frame no copy holds is ERR_NOT_FOUND, and exists is false', async () => {
    const { storage } = await pair()
    const hash = 'ab'.repeat(32)
    await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    await expect(storage.stat(hash)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    await expect(storage.fetchStream(hash)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    expect(await storage.exists(hash)).toBe(false)
    await storage.close()
  })

  it('a frame every copy lost (removed by hand) is LOST on every read path and logged; delete forgets it', async () => {
    const { storage, primary, replica, logged } = await pair()
    const { hash } = await storage.store(testJpeg('lost everywhere', 8000))
    await storage.drain()
    for (const copy of [primary, replica]) await unlink(copy.pathOf(hash))
    const reads = [async () => await storage.fetch(hash), async () => await storage.stat(hash)]
    for (const read of [...reads, async () => await storage.fetchStream(hash)])
      await expect(read()).rejects.toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringContaining('LOST') })
    expect(logged.filter(l => l.fields.event === 'replication.lost')).toHaveLength(3)
    expect(await storage.exists(hash)).toBe(false)
    expect(await storage.delete(hash)).toBe(true) // the store knew it: its loss is forgotten
    await expect(storage.fetch(hash)).rejects.toMatchObject({ message: expect.not.stringContaining('LOST') })
    expect(await storage.delete(hash)).toBe(false)
    await storage.close()
  })
})
