// A primary file that cannot be read (EIO: a failing disk's sectors, made real by crashfs, a FUSE filesystem: reads
// of the file answer EIO) is answered from the replica's verified copy and healed, by fetch and by the HTTP handler;
// with no replica copy, it is "unavailable", neither "not found" nor a loss.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { mountCrashfs } from '../../crash/harness.mjs'
import { tempDir } from '../../infra/helpers/tmp.js'
import { namesIn } from './helpers.js'

const asRoot = process.getuid?.() === 0

describe.skipIf(!asRoot)('a primary file that cannot be read (EIO)', () => {
  let mnt: string
  let unmount: () => Promise<void>
  let primary: FilesystemDriver
  let replica: FilesystemDriver
  let storage: ReplicatedStorage
  beforeAll(async () => {
    const work = await tempDir('sai-eio')
    mnt = join(work, 'mnt')
    for (const dir of ['src', 'mnt']) mkdirSync(join(work, dir))
    unmount = await mountCrashfs(join(work, 'src'), mnt, join(work, 'log'))
    primary = new FilesystemDriver({ root: mnt })
    replica = new FilesystemDriver({ root: await tempDir('sai-eio-replica') })
    storage = createReplicatedStorage({ primary, replicas: [{ name: 'copy', storage: replica }], background: false })
  })
  afterAll(async () => {
    await storage?.close()
    await unmount?.()
  })

  /** Stores `bytes` (copied to the replica unless `copied` is false), then makes its primary file unreadable. */
  async function unreadable(bytes: Buffer, copied = true): Promise<{ hash: string; path: string }> {
    const { hash, path } = await storage.store(bytes)
    if (copied) await storage.drain()
    existsSync(join(mnt, `.crashfs-unreadable-${statSync(path).ino}`))
    expect(() => readFileSync(path)).toThrow(expect.objectContaining({ code: 'EIO' })) // the fault is real
    return { hash, path }
  }

  it('fetch answers from the replica and heals the primary: the file reads again, the unreadable one quarantined', async () => {
    const bytes = testJpeg('eio fetch', 200_000)
    const { hash, path } = await unreadable(bytes)
    const healed = storage.status().heals.healed
    expect(await storage.fetch(hash)).toEqual(bytes)
    expect(storage.status().heals.healed).toBe(healed + 1)
    expect(readFileSync(path)).toEqual(bytes)
    expect((await namesIn(join(mnt, '.quarantine'))).filter(name => name.includes(hash))).toHaveLength(1)
  })

  it('the HTTP handler answers 200 with the exact bytes, and the primary is healed', async () => {
    const bytes = testJpeg('eio http', 120_000)
    const { hash, path } = await unreadable(bytes)
    const server: Server = createServer(createImageHandler(storage, { onError: () => {} }))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/images/${hash}`)
      expect(response.status).toBe(200)
      expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes)
    } finally {
      server.close()
    }
    expect(readFileSync(path)).toEqual(bytes)
  })

  it("a file the handler verified and recorded, unreadable since: not a 500 until the record's age runs out", async () => {
    const bytes = testJpeg('eio recorded', 90_000)
    const { hash, path } = await storage.store(bytes)
    await storage.drain()
    const server: Server = createServer(createImageHandler(storage, { onError: () => {} }))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/images/${hash}`
    try {
      expect((await fetch(url)).status).toBe(200) // verified, and recorded
      existsSync(join(mnt, `.crashfs-unreadable-${statSync(path).ino}`))
      const again = await fetch(url)
      expect(again.status).toBe(200)
      expect(Buffer.from(await again.arrayBuffer())).toEqual(bytes)
    } finally {
      server.close()
    }
  })

  it('a store of a frame whose file cannot be read replaces it: a frame of its own, not an unavailable store', async () => {
    const bytes = testJpeg('eio store again', 40_000)
    const { hash, path } = await unreadable(bytes, false)
    expect(await primary.store(bytes)).toMatchObject({ hash })
    expect(readFileSync(path)).toEqual(bytes) // another inode, readable
    expect(await primary.fetch(hash)).toEqual(bytes)
  })

  it('with no replica copy, a read is unavailable (the file is there), not "not found" and not a loss', async () => {
    const { hash } = await unreadable(testJpeg('eio alone', 50_000), false)
    await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    await expect(primary.fetch(hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
  })
})
