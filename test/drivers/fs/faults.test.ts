import { execFileSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { chmod, mkdir, readdir } from 'node:fs/promises'
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
})
