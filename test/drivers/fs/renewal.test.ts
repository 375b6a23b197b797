import { execFileSync } from 'node:child_process'
import { chmod, rename, rm, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { MemoryDriver } from '../../../src/drivers/memory/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const YEAR_AGO = new Date(Date.now() - 365 * 24 * 3600 * 1000)

describe('age: a duplicate store renews the last store, storedAt stays the first', () => {
  it('fs: the mtime is the last store, renewed by a duplicate store of bytes and of a stream', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const jpeg = testJpeg('renew', 50_000)
    const first = await storage.store(jpeg)
    const born = (await stat(first.path)).birthtime
    await utimes(first.path, YEAR_AGO, YEAR_AGO)
    expect((await storage.stat(first.hash)).lastStoredAt).toEqual(YEAR_AGO)
    const before = Date.now()
    const again = await storage.store(jpeg)
    expect(again).toMatchObject({ isDuplicate: true, storedAt: born })
    const renewed = await storage.stat(first.hash)
    expect(renewed.lastStoredAt!.getTime()).toBeGreaterThanOrEqual(before)
    expect(renewed.storedAt).toEqual(born) // birth time: the first store

    await utimes(first.path, YEAR_AGO, YEAR_AGO)
    expect((await storage.store(Readable.from([jpeg]))).isDuplicate).toBe(true)
    expect((await storage.stat(first.hash)).lastStoredAt!.getTime()).toBeGreaterThanOrEqual(before)
  })

  it('fs: a renewal is later than the old mtime even when that is in the future (clock stepped back)', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const { path, hash } = await storage.store(testJpeg('future'))
    const future = new Date(Date.now() + 3600_000)
    await utimes(path, future, future)
    await storage.store(testJpeg('future'))
    expect((await storage.stat(hash)).lastStoredAt!.getTime()).toBeGreaterThan(future.getTime())
  })

  it('fs: a duplicate store whose object is moved away (by a prune) writes it anew', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const jpeg = testJpeg('moved')
    const { path, hash } = await storage.store(jpeg)
    await rename(path, `${root}/elsewhere`)
    expect(await storage.store(jpeg)).toMatchObject({ isDuplicate: false })
    expect(Buffer.compare(await storage.fetch(hash), jpeg)).toBe(0)
  })

  it.skipIf(process.getuid?.() !== 0)(
    "fs: a duplicate store of another user's file (storage.py's, in a shared store) writes it anew: " +
      'young again, so no prune by age takes the frame just acknowledged',
    async () => {
      const root = await tempDir()
      const storage = new FilesystemDriver({ root })
      const jpeg = testJpeg('not ours', 20_000)
      const { path, hash } = await storage.store(jpeg) // root's file, as the Python service's is its user's
      execFileSync('chmod', ['-R', 'a+rwX', root]) // the store shared (a group in production)
      await chmod(path, 0o644)
      await utimes(path, YEAR_AGO, YEAR_AGO)
      const before = Date.now()
      const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
      const run = startChild('store', { root, seed: 'not ours', size: 20_000 }, nobody)
      expect(await run.done).toBe(0)
      const after = await stat(path)
      expect(after.mtimeMs).toBeGreaterThanOrEqual(before) // only the owner may set a file's times: written anew
      expect(after.uid).toBe(65534)
      expect(await storage.fetch(hash)).toEqual(jpeg)
      expect(await storage.deleteIfNotRenewed(hash, YEAR_AGO)).toBe(false)
    }
  )

  it('fs: deleteIfNotRenewed keeps a renewed object and deletes one that was not', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const { hash, path } = await storage.store(testJpeg('del'))
    await utimes(path, YEAR_AGO, YEAR_AGO)
    const seen = (await storage.stat(hash)).lastStoredAt!
    await storage.store(testJpeg('del')) // renewed after the prune looked
    expect(await storage.deleteIfNotRenewed(hash, seen)).toBe(false)
    expect(await storage.exists(hash)).toBe(true)
    const now = (await storage.stat(hash)).lastStoredAt!
    expect(await storage.deleteIfNotRenewed(hash, now)).toBe(true)
    expect(await storage.exists(hash)).toBe(false)
    expect(await storage.deleteIfNotRenewed(hash, now)).toBe(false)
    expect((await storage.verify()).problems).toEqual([]) // nothing left set aside
  })

  it('fs: a second driver on the root deletes, though the .pruning folder the first one made was removed', async () => {
    const root = await tempDir()
    const first = new FilesystemDriver({ root })
    const a = await first.store(testJpeg('aside a'))
    expect(await first.deleteIfNotRenewed(a.hash, (await first.stat(a.hash)).lastStoredAt!)).toBe(true)
    await rm(join(root, '.pruning'), { recursive: true })
    // (what a driver knows of the folders it made is its own, not the process's)
    const second = new FilesystemDriver({ root })
    const b = await second.store(testJpeg('aside b'))
    expect(await second.deleteIfNotRenewed(b.hash, (await second.stat(b.hash)).lastStoredAt!)).toBe(true)
    expect(await second.exists(b.hash)).toBe(false)
  })

  it('memory: the same', async () => {
    const storage = new MemoryDriver()
    const first = await storage.store(testJpeg('memory'))
    const seen = (await storage.stat(first.hash)).lastStoredAt!
    const again = await storage.store(testJpeg('memory'))
    expect(again.storedAt).toEqual(first.storedAt)
    const renewed = await storage.stat(first.hash)
    expect(renewed.storedAt).toEqual(first.storedAt)
    expect(renewed.lastStoredAt!.getTime()).toBeGreaterThan(seen.getTime())
    expect(await storage.deleteIfNotRenewed(first.hash, seen)).toBe(false)
    expect(await storage.deleteIfNotRenewed(first.hash, renewed.lastStoredAt!)).toBe(true)
    expect(await storage.exists(first.hash)).toBe(false)
  })
})
