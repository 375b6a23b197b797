/**
 * The store's path through the disk: a new shard's temp is staged in {root}/.tmp while the shard
 * directory is made; the temp's close and removal run without a wait, and `close()` waits for them.
 */
import { createHash } from 'node:crypto'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { StorageUnavailableError } from '../../../src/core/errors.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** Every file under `dir`, read from the disk itself (not through the driver). */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter(entry => entry.isFile())
    .map(entry => relative(dir, join(entry.parentPath, entry.name)))
    .sort()
}

describe('FilesystemDriver store path', () => {
  for (const fsync of [true, false]) {
    it(`new and existing shards, new and duplicate images: once close() resolves, only the objects (and the layout record) are on disk (fsync ${fsync})`, async () => {
      const root = join(await tempDir(), 'store')
      const storage = new FilesystemDriver({ root, fsync })
      const images = Array.from({ length: 24 }, (_, i) => testJpeg(`store path ${fsync} ${i}`, 20_000 + i))
      // new shards: staged in .tmp
      const first = await Promise.all(images.map(async image => await storage.store(image)))
      const again = await Promise.all(images.map(async image => await storage.store(image))) // duplicates
      const more = testJpeg(`same shard as the first ${fsync}`, 30_000)
      await storage.close()
      expect(first.map(r => r.isDuplicate)).toEqual(images.map(() => false))
      expect(again.map(r => r.isDuplicate)).toEqual(images.map(() => true))
      // the objects, and the store's record of its layout (layout.ts)
      expect(await files(root)).toEqual(
        ['.sai-layout.json', ...images.map(image => storage.keyOf(sha256(image)))].sort()
      )

      // an existing shard: the temp sits beside the final name, and is gone too
      await mkdir(join(root, storage.keyOf(sha256(more)), '..'), { recursive: true })
      await storage.store(more)
      await storage.close()
      expect(await files(root)).toEqual(
        ['.sai-layout.json', ...[...images, more].map(image => storage.keyOf(sha256(image)))].sort()
      )
      for (const image of [...images, more]) expect((await storage.fetch(sha256(image))).equals(image)).toBe(true)
    })
  }

  it('a shard directory that cannot be made fails the store typed, and removes the staged temp', async () => {
    const root = join(await tempDir(), 'store')
    const storage = new FilesystemDriver({ root })
    await storage.store(testJpeg('makes the root', 1000))
    const image = testJpeg('blocked shard', 5000)
    const hash = sha256(image)
    // a file where the shard's first level should be a directory
    await writeFile(join(root, hash.slice(0, 2)), 'not a directory').catch(async () => {
      await writeFile(join(root, hash.slice(0, 2), hash.slice(2, 4)), 'not a directory')
    })
    const error = await storage.store(image).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(StorageUnavailableError)
    expect(error).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('ENOTDIR') })
    await storage.close()
    expect(await readdir(join(root, '.tmp'))).toEqual([])
    expect(await storage.exists(hash)).toBe(false)
  })
})
