import { execFileSync } from 'node:child_process'
import { hash as digest } from 'node:crypto'
import { lstatSync, lutimesSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { StorageUnavailableError } from '../../../src/core/errors.js'
import { testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { smallTmpfs, strayTemps, tempDir } from '../../infra/helpers/tmp.js'

const isRoot = process.getuid?.() === 0
const why = 'needs root to mount a tmpfs and to drop to another user; CI runs as root'
if (!isRoot) console.warn(`skipped: real ENOSPC, EROFS and EACCES tests (${why})`)

async function leftovers(storage: FilesystemDriver): Promise<string[]> {
  const temps = await strayTemps(storage)
  const objects = []
  for await (const entry of storage.list()) objects.push(entry.key)
  return [...temps, ...objects]
}

describe.skipIf(!isRoot)('FilesystemDriver on a failing disk (real faults)', () => {
  it('ENOSPC: a typed error, no partial object, no temp; works again once space is freed', async () => {
    const root = await smallTmpfs('2m')
    const storage = new FilesystemDriver({ root })
    const first = await storage.store(testJpeg('enospc first', 1024 * 1024))
    const big = testJpeg('enospc big', 1536 * 1024)
    for (const input of [
      big,
      (async function* () {
        for (let at = 0; at < big.length; at += 65536) yield big.subarray(at, at + 65536)
      })()
    ]) {
      const error = await storage.store(input).catch(err => err)
      expect(error).toBeInstanceOf(StorageUnavailableError)
      expect(error.code).toBe('ERR_STORAGE_UNAVAILABLE')
      expect(error.cause.code).toBe('ENOSPC')
      expect(error.message).toContain(root)
      expect(error.message).toContain('set the root option') // the setting this caller used (the CLI names --root, the factory the variable)
      expect(await leftovers(storage)).toEqual([first.key])
    }
    expect(await storage.delete(first.hash)).toBe(true)
    const retried = await storage.store(big)
    expect(retried.isDuplicate).toBe(false)
    expect(Buffer.compare(await storage.fetch(retried.hash), big)).toBe(0)
  })

  it('EXDEV: a .tmp mounted from another filesystem fails typed, naming the cause; no object, no temp left', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const first = await storage.store(testJpeg('exdev first'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', join(root, '.tmp')])
    try {
      const error = await storage.store(testJpeg('exdev', 50_000)).catch(err => err)
      expect(error).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', cause: { code: 'EXDEV' } })
      expect(error.message).toContain('another filesystem')
      expect(await readdir(join(root, '.tmp'))).toEqual([])
      expect(await leftovers(storage)).toEqual([first.key])
    } finally {
      execFileSync('umount', [join(root, '.tmp')])
    }
  })

  it('EROFS: writes fail typed, reads go on', async () => {
    const root = await smallTmpfs('4m')
    const storage = new FilesystemDriver({ root })
    const kept = await storage.store(testJpeg('erofs kept'))
    execFileSync('mount', ['-o', 'remount,ro', root])
    try {
      const error = await storage.store(testJpeg('erofs new')).catch(err => err)
      expect(error).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', cause: { code: 'EROFS' } })
      expect(error.message).toContain('read-only')
      await expect(storage.delete(kept.hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
      expect(await storage.exists(kept.hash)).toBe(true)
      expect((await storage.fetch(kept.hash)).length).toBe(kept.size)
      expect(await storage.store(testJpeg('erofs kept'))).toMatchObject({ isDuplicate: true })
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', root])
    }
    expect((await storage.store(testJpeg('erofs new'))).isDuplicate).toBe(false)
  })

  it('EACCES: a user who may not write gets a typed error naming the path', async () => {
    const root = await tempDir()
    await chmod(root, 0o755) // readable by the other user, writable by root only
    const run = startChild('store', { root, seed: 'eacces' }, [
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups'
    ])
    expect(await run.done).toBe(1)
    const [line] = run.lines()
    expect(line.error.code).toBe('ERR_STORAGE_UNAVAILABLE')
    expect(line.error.message).toContain(root)
    expect(line.error.message).toContain('permission denied')
  })
})

describe('FilesystemDriver root', () => {
  it('a missing root with createRoot: false is ERR_STORAGE_UNAVAILABLE, not a new directory', async () => {
    const root = join(await tempDir(), 'raid-not-mounted')
    const storage = new FilesystemDriver({ root, createRoot: false })
    await expect(storage.store(testJpeg('no mount'))).rejects.toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      path: root
    })
    await expect(readdir(root)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

describe('FilesystemDriver: a folder where a frame should be (a mistaken mkdir, a sync tool)', () => {
  it('store, fetch, stat and delete fail typed (ERR_STORAGE_UNAVAILABLE), naming that entry', async () => {
    const storage = new FilesystemDriver({ root: await tempDir('sai-eisdir') })
    const bytes = testJpeg('a folder in its place')
    const { sha256, path } = await storage.store(bytes)
    await storage.delete(sha256)
    await mkdir(path) // `<sha>.jpg` as a folder
    const calls = {
      store: async () => await storage.store(bytes),
      fetch: async () => await storage.fetch(sha256),
      stat: async () => await storage.stat(sha256),
      delete: async () => await storage.delete(sha256)
    }
    for (const [name, call] of Object.entries(calls)) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e
      )
      expect(err, name).toBeInstanceOf(StorageUnavailableError)
      expect((err as StorageUnavailableError).code, name).toBe('ERR_STORAGE_UNAVAILABLE')
      expect((err as Error).message, name).toContain(`${path}: a folder stands where a file should be`)
    }
    expect(statSync(path).isDirectory()).toBe(true) // left as found
  })

  it('fetchStream rejects before a byte is streamed, and exists says so too', async () => {
    const storage = new FilesystemDriver({ root: await tempDir('sai-eisdir') })
    const { sha256, path } = await storage.store(testJpeg('a folder in its place'))
    await storage.delete(sha256)
    await mkdir(path)
    for (const [name, call] of Object.entries({
      fetchStream: async () => await storage.fetchStream(sha256),
      exists: async () => await storage.exists(sha256)
    })) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e
      )
      expect(err, name).toBeInstanceOf(StorageUnavailableError)
      expect((err as Error).message, name).toContain(`${path}: a folder stands where a file should be`)
    }
  })

  it("verify reports it (`not-a-file`, not clean), inline and in the walk's workers; a repair leaves it", async () => {
    // 16 folders of 10 objects: the first eight are walked inline, the rest by workers (walk.ts)
    const root = await tempDir('sai-eisdir')
    const hashes: string[] = []
    for (let i = 0; hashes.length < 160; i++) {
      const hash = digest('sha256', `frame ${i}`, 'hex')
      if (hash >= '10' || hashes.filter(h => h.startsWith(hash.slice(0, 2))).length >= 10) continue
      mkdirSync(join(root, hash.slice(0, 2), hash.slice(2, 4)), { recursive: true })
      writeFileSync(join(root, hash.slice(0, 2), hash.slice(2, 4), `${hash}.jpg`), `frame ${i}`)
      hashes.push(hash)
    }
    const folders = [hashes.find(h => h.startsWith('00'))!, hashes.find(h => h.startsWith('0f'))!].map(hash => {
      const path = join(root, hash.slice(0, 2), hash.slice(2, 4), `${hash}.jpg`)
      rmSync(path)
      mkdirSync(path)
      writeFileSync(join(path, 'notes.txt'), "someone else's")
      return path
    })
    mkdirSync(join(root, '0f', 'ff', 'not-a-frame'), { recursive: true }) // under no object's name: not ours
    const storage = new FilesystemDriver({ root, fsync: false })
    const report = await storage.verify()
    expect(report.problems).toEqual(
      folders.map(path => ({ path, key: path.slice(root.length + 1), reason: 'not-a-file' }))
    )
    expect(report).toMatchObject({ checked: 158, clean: false, counts: { 'not-a-file': 2 } })
    const repaired = await storage.verify({ repair: true })
    expect(repaired.problems.map(p => [p.reason, p.action])).toEqual([
      ['not-a-file', 'left'],
      ['not-a-file', 'left']
    ])
    expect(repaired).toMatchObject({ clean: false, quarantined: 0, removed: 0, restored: 0 })
    for (const path of folders) expect(readFileSync(join(path, 'notes.txt'), 'utf8')).toBe("someone else's")
  })

  it('a symbolic link named as an object, dangling or to a damaged file, is `not-a-file` too; a repair leaves it', async () => {
    // the store does not hold those bytes, and no walk reads them: before, verify said clean while fetch failed
    const root = await tempDir('sai-symlink')
    const storage = new FilesystemDriver({ root, fsync: false })
    const dangling = await storage.store(testJpeg('its file is gone'))
    const damaged = await storage.store(testJpeg('its file elsewhere is damaged'))
    const elsewhere = join(await tempDir('sai-symlink-target'), 'frame.jpg')
    writeFileSync(elsewhere, 'not the bytes')
    rmSync(dangling.path)
    symlinkSync(join(root, 'gone.jpg'), dangling.path)
    rmSync(damaged.path)
    symlinkSync(elsewhere, damaged.path)
    const report = await storage.verify()
    expect(report.problems.map(p => [p.path, p.reason]).sort()).toEqual(
      [
        [dangling.path, 'not-a-file'],
        [damaged.path, 'not-a-file']
      ].sort()
    )
    expect(report.clean).toBe(false)
    const repaired = await storage.verify({ repair: true })
    expect(repaired.problems.map(p => p.action)).toEqual(['left', 'left'])
    expect(lstatSync(damaged.path).isSymbolicLink() && lstatSync(dangling.path).isSymbolicLink()).toBe(true)
  })
})

describe('FilesystemDriver: a symbolic link where a frame should be (an operator, a sync tool)', () => {
  // what a read serves must be what verify checked: verify calls any link `not-a-file`, so every call answers one as
  // it answers a folder, before a byte; its target, here an intact copy, is not the store's to read, renew or delete
  it('fetch, fetchStream, stat, exists, delete: ERR_STORAGE_UNAVAILABLE naming it, whatever it points to', async () => {
    const root = await tempDir('sai-symlink')
    const storage = new FilesystemDriver({ root })
    const elsewhere = await tempDir('sai-symlink-target')
    const bytes = testJpeg('a link in its place')
    const targets = {
      'an intact copy': async () => await writeFile(join(elsewhere, 'copy.jpg'), bytes),
      'other bytes': async () => await writeFile(join(elsewhere, 'copy.jpg'), testJpeg('another frame')),
      'nothing (dangling)': async () => rmSync(join(elsewhere, 'copy.jpg'), { force: true })
    }
    const { sha256, path } = await storage.store(bytes)
    rmSync(path)
    symlinkSync(join(elsewhere, 'copy.jpg'), path)
    for (const [target, make] of Object.entries(targets)) {
      await make()
      const before = lstatSync(join(elsewhere, 'copy.jpg'), { throwIfNoEntry: false })?.mtimeMs
      for (const [name, call] of Object.entries({
        fetch: async () => await storage.fetch(sha256),
        fetchStream: async () => await storage.fetchStream(sha256),
        stat: async () => await storage.stat(sha256),
        exists: async () => await storage.exists(sha256),
        delete: async () => await storage.delete(sha256)
      })) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e
        )
        const at = `${target}: ${name}`
        expect(err, at).toBeInstanceOf(StorageUnavailableError)
        expect((err as Error).message, at).toContain(`${path}: a symbolic link stands where a file should be (ELOOP)`)
        expect((err as Error).message, at).toContain('Move it aside')
      }
      expect(lstatSync(path).isSymbolicLink(), target).toBe(true) // left as found, and its target too
      expect(lstatSync(join(elsewhere, 'copy.jpg'), { throwIfNoEntry: false })?.mtimeMs, target).toBe(before)
    }
  })

  it('a store of its frame replaces it with the file, whatever it points to; the target is left as it was', async () => {
    // never a "duplicate" of bytes the store does not hold (nor a renewal of another's file): the frame is written
    const root = await tempDir('sai-symlink')
    const elsewhere = await tempDir('sai-symlink-target')
    for (const [target, fsync] of [
      ['an intact copy', true],
      ['an intact copy', false],
      ['other bytes', true],
      ['nothing (dangling)', true]
    ] as const) {
      const storage = new FilesystemDriver({ root, fsync })
      const bytes = testJpeg(`a link replaced: ${target}, fsync ${fsync}`)
      const copy = join(elsewhere, `${digest('sha256', bytes, 'hex')}.jpg`)
      if (target !== 'nothing (dangling)') await writeFile(copy, target === 'other bytes' ? testJpeg('other') : bytes)
      const path = storage.pathOf(digest('sha256', bytes, 'hex'))
      mkdirSync(join(path, '..'), { recursive: true })
      symlinkSync(copy, path)
      const before = lstatSync(copy, { throwIfNoEntry: false })?.mtimeMs
      const stored = await storage.store(bytes)
      expect({ target, fsync, isDuplicate: stored.isDuplicate, file: lstatSync(path).isFile() }).toEqual({
        target,
        fsync,
        isDuplicate: false,
        file: true
      })
      expect((await storage.fetch(stored.sha256)).equals(bytes)).toBe(true)
      expect(lstatSync(copy, { throwIfNoEntry: false })?.mtimeMs, target).toBe(before)
    }
  })

  it("a prune never deletes one, even by its target's time (it is put back)", async () => {
    const root = await tempDir('sai-symlink')
    const storage = new FilesystemDriver({ root })
    const { sha256, path } = await storage.store(testJpeg('a link pruned'))
    const copy = join(await tempDir('sai-symlink-target'), 'copy.jpg')
    await writeFile(copy, await readFile(path))
    rmSync(path)
    symlinkSync(copy, path)
    const seen = statSync(copy).mtime
    lutimesSync(path, seen, seen) // the link's own time too: neither time may make it a candidate
    expect(await storage.deleteIfNotRenewed(sha256, seen)).toBe(false)
    expect(lstatSync(path).isSymbolicLink()).toBe(true)
    expect(await readdir(join(root, '.pruning'))).toEqual([])
  })
})
