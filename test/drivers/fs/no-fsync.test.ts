import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { HASH_SLICE } from '../../../src/core/hashing.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

// the real fs, its synchronous opens recorded (the driver's duplicate check opens a final name on the event loop),
// and its asynchronous ones (a temp file's)
const opened = vi.hoisted(() => [] as string[])
const openedAsync = vi.hoisted(() => [] as string[])
vi.mock('node:fs', async original => {
  const fs = await original<typeof import('node:fs')>()
  const openSync = (...args: Parameters<typeof fs.openSync>): number => {
    opened.push(String(args[0]))
    return fs.openSync(...args)
  }
  const open = (...args: unknown[]): void => {
    openedAsync.push(String(args[0]))
    ;(fs.open as (...a: unknown[]) => void)(...args)
  }
  return { ...fs, open, openSync, default: { ...fs, open, openSync } }
})

/** Every file under `root` whose name ends in `.tmp` (not the `.tmp` folder itself). */
function temps(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter(
    name => name.endsWith('.tmp') && name !== '.tmp'
  )
}

// without fsync a store writes its temp (in a recent frame's folder, the first in {root}/.tmp) while it hashes the
// bytes: a duplicate or a rejected input must drop that temp, and racing writers must still make one object, one
// creator
describe('FilesystemDriver without fsync: the temp written while hashing', () => {
  it('a new frame, its duplicate and a rejected input leave one object and no temp', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    const frame = testJpeg('no fsync', 600_000)
    const first = await storage.store(frame)
    const again = await storage.store(frame)
    expect([first.isDuplicate, again.isDuplicate]).toEqual([false, true])
    await expect(storage.store(Buffer.alloc(600_000, 7))).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' })
    await expect(storage.store(frame, { maxBytes: 1000 })).rejects.toMatchObject({ code: 'ERR_TOO_LARGE' })
    await storage.close()
    expect(temps(root)).toEqual([])
    expect(readdirSync(join(root, '.tmp'))).toEqual([])
    expect(Buffer.compare(await storage.fetch(first.hash), frame)).toBe(0)
  })

  it('8 writers of the same bytes at once: exactly one creator, one file, no temp', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    const frame = testJpeg('no fsync race', 600_000)
    const results = await Promise.all(Array.from({ length: 8 }, async () => await storage.store(Buffer.from(frame))))
    expect(results.filter(r => !r.isDuplicate)).toHaveLength(1)
    expect(new Set(results.map(r => r.path)).size).toBe(1)
    await storage.close()
    expect(temps(root)).toEqual([])
    expect(readdirSync(join(root, results[0]!.key, '..'))).toEqual([`${results[0]!.hash}.jpg`])
  })

  it('a store returns with its temp gone (linked and unlinked on the event loop)', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    await storage.store(testJpeg('no fsync first', 1000)) // the root and its .tmp made, modules loaded
    let seen = 0
    for (let i = 0; i < 20; i++) {
      // one alone, then two at once
      await storage.store(testJpeg(`no fsync alone ${i}`, 300_000))
      seen += readdirSync(join(root, '.tmp')).length
      await Promise.all([1, 2].map(async n => await storage.store(testJpeg(`no fsync pair ${i} ${n}`, 300_000))))
      seen += readdirSync(join(root, '.tmp')).length
    }
    await storage.close()
    expect(seen).toBe(0)
    expect(temps(root)).toEqual([])
  })

  it('a new frame is linked without a failing open of its name first; a duplicate is still recognised', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    await storage.store(testJpeg('no fsync opens first', 1000)) // the root and its .tmp made
    const frame = testJpeg('no fsync opens', 300_000)
    opened.length = 0
    const stored = await storage.store(frame)
    expect(opened.filter(path => path.endsWith('.jpg'))).toEqual([])
    // a duplicate: the link finds the name taken, then the bytes are compared (opened once)
    expect((await storage.store(frame)).isDuplicate).toBe(true)
    expect(opened.filter(path => path.endsWith('.jpg'))).toEqual([stored.path])
    await storage.close()
    expect(temps(root)).toEqual([])
  })

  it('a frame of one hash slice or less is hashed first, so a duplicate writes no temp; larger, early', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    const small = testJpeg('no fsync small', HASH_SLICE)
    const stored = await storage.store(small)
    openedAsync.length = 0
    expect((await storage.store(small)).isDuplicate).toBe(true)
    expect(openedAsync).toEqual([]) // (it was a temp in .tmp, written and removed for nothing)
    // over a slice: the temp is opened before the bytes are hashed (its name is not known yet), in the folder of the
    // frame stored last
    const large = testJpeg('no fsync large', HASH_SLICE + 1)
    const first = await storage.store(large)
    expect(openedAsync.filter(path => path.endsWith('.tmp')).map(path => dirname(path))).toEqual([dirname(stored.path)])
    openedAsync.length = 0
    expect((await storage.store(large)).isDuplicate).toBe(true)
    expect(openedAsync.filter(path => path.endsWith('.tmp'))).toHaveLength(1)
    await storage.close()
    expect(temps(root)).toEqual([])
    expect(Buffer.compare(await storage.fetch(stored.hash), small)).toBe(0)
    expect(Buffer.compare(await storage.fetch(first.hash), large)).toBe(0)
  })

  it('early temps go in the folders of the last 16 frames stored, in turn, not all in one folder', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    const folderOf = (path: string): string => dirname(path)
    openedAsync.length = 0
    const first = await storage.store(testJpeg('no fsync lenders 0', 300_000))
    // the first store of a process has no recent folder: .tmp
    expect(openedAsync.filter(path => path.endsWith('.tmp')).map(folderOf)).toEqual([join(root, '.tmp')])
    const earlier = [first]
    for (let i = 1; i < 20; i++) earlier.push(await storage.store(testJpeg(`no fsync lenders ${i}`, 300_000)))
    openedAsync.length = 0
    const frames = Array.from({ length: 8 }, (_, i) => testJpeg(`no fsync lenders at once ${i}`, 300_000))
    const stored = await Promise.all(frames.map(async frame => await storage.store(frame)))
    const folders = openedAsync.filter(path => path.endsWith('.tmp')).map(folderOf)
    // 8 at once: 8 different folders, each one a frame among the last 16 stored before them went into
    const lenders = new Set(earlier.slice(-16).map(s => folderOf(s.path)))
    expect(folders).toHaveLength(8)
    expect(new Set(folders).size).toBe(8)
    for (const folder of folders) expect(lenders.has(folder)).toBe(true)
    await storage.close()
    expect(temps(root)).toEqual([])
    for (const [i, s] of stored.entries()) expect(Buffer.compare(await storage.fetch(s.hash), frames[i]!)).toBe(0)
  })

  it('a lent folder removed meanwhile (a prune of an empty shard folder) is made again for the temp', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    const first = await storage.store(testJpeg('no fsync lender gone 0', 300_000))
    await storage.delete(first.hash)
    rmSync(dirname(first.path), { recursive: true }) // (retention removes a shard folder it emptied)
    const frame = testJpeg('no fsync lender gone 1', 300_000)
    const stored = await storage.store(frame)
    await storage.close()
    expect(stored.isDuplicate).toBe(false)
    expect(Buffer.compare(await storage.fetch(stored.hash), frame)).toBe(0)
    expect(temps(root)).toEqual([])
  })

  it('an early temp a crash left in a shard folder is a stray temp: verify --repair removes it', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    const { path } = await storage.store(testJpeg('no fsync lender crash', 300_000))
    const left = join(dirname(path), `${randomUUID()}.tmp`) // (the name an early temp has there)
    writeFileSync(left, Buffer.alloc(100_000))
    const old = new Date(Date.now() - 2 * 3600_000)
    utimesSync(left, old, old)
    expect((await storage.verify()).problems).toMatchObject([{ path: left, reason: 'stray-temp' }])
    expect((await storage.verify({ repair: true })).problems).toMatchObject([{ path: left, action: 'removed' }])
    expect(temps(root)).toEqual([])
    await storage.close()
  })

  it('a damaged object is replaced by the new bytes, and its temp (moved into place) is not reported', async () => {
    const root = await tempDir()
    const warnings: string[] = []
    const storage = new FilesystemDriver({ root, fsync: false, logger: { warn: f => warnings.push(String(f.event)) } })
    const frame = testJpeg('no fsync damaged', 300_000)
    const { path } = await storage.store(frame)
    const damaged = Buffer.from(frame)
    damaged[200_000] = damaged[200_000]! ^ 0xff
    writeFileSync(path, damaged)
    await new Promise(resolve => setTimeout(resolve, 5)) // a new mtime: the duplicate check reads the bytes
    expect((await storage.store(frame)).isDuplicate).toBe(false)
    await storage.close()
    expect(Buffer.compare(readFileSync(path), frame)).toBe(0)
    expect(warnings).toEqual([])
    expect(temps(root)).toEqual([])
  })
})
