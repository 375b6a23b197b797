// The default instance, `imageStorage`: every member of the store it stands for is its own, by
// construction, and `prune(imageStorage)` keeps the guarantee that a store racing it keeps its object.
import { utimes } from 'node:fs/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createImageStorage, imageStorage } from '../../../src/features/factory/index.js'
import { prune } from '../../../src/features/retention/prune.js'
import { testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { tempDir } from '../../infra/helpers/tmp.js'

/** Every property name of `value` and its prototypes, but Object's own. */
function members(value: object): string[] {
  const names = new Set<string>()
  for (let o: object | null = value; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) if (name !== 'constructor') names.add(name)
  }
  return [...names].sort()
}

const root = await tempDir('sai-singleton')
process.env.SAI_IMAGE_STORAGE_PATH = root
afterAll(async () => {
  await imageStorage.close()
  delete process.env.SAI_IMAGE_STORAGE_PATH
})

describe('imageStorage: the store createImageStorage() makes, every member of it', () => {
  it('has each method and capability the made store has, of the same kind, bound to it', async () => {
    const made = createImageStorage()
    const names = members(made).filter(name => !name.startsWith('#'))
    expect(names).toEqual(
      expect.arrayContaining([
        'store',
        'fetch',
        'deleteIfNotRenewed',
        'verify',
        'quarantine',
        'root',
        'location',
        'list'
      ])
    )
    for (const name of names) {
      const kind = typeof (made as unknown as Record<string, unknown>)[name]
      expect({
        name,
        kind: typeof (imageStorage as unknown as Record<string, unknown>)[name],
        present: name in imageStorage
      }).toEqual({ name, kind, present: true })
    }
    expect(imageStorage.root).toBe(root)
    // bound: a method taken off the singleton still works on the store
    const { store, fetch } = imageStorage
    const { hash } = await store(testJpeg('singleton bound'))
    expect((await fetch(hash)).length).toBe(2048)
    // awaiting it (returning it from an async function) makes no store
    await expect(Promise.resolve(imageStorage)).resolves.toBe(imageStorage)
  })

  it(
    'prune(imageStorage) with processes storing again: no store that resolves during the prune loses ' + 'its object',
    async () => {
      for (let round = 0; round < 4; round++) {
        const seeds = Array.from({ length: 30 }, (_, i) => `singleton race ${round} ${i}`)
        const hashes = []
        for (const seed of seeds) {
          const { hash, path } = await imageStorage.store(testJpeg(seed, 2000))
          await utimes(path, new Date(2020, 0, 1), new Date(2020, 0, 1))
          hashes.push(hash)
        }
        const startAt = Date.now() + 500
        const children = [0, 1].map(i =>
          startChild('restore', {
            root,
            seeds: seeds.filter((_, j) => j % 2 === i),
            size: 2000,
            startAt,
            until: startAt + 300
          })
        )
        await new Promise(resolve => setTimeout(resolve, startAt - Date.now() + 30))
        const started = Date.now()
        const report = await prune(imageStorage, { olderThan: 24 * 3600 * 1000, concurrency: 8 })
        expect(await Promise.all(children.map(async c => await c.done))).toEqual([0, 0])
        const resolved = new Set(
          children
            .flatMap(c => c.lines())
            .filter(l => l.resolvedAt >= started)
            .map(l => l.sha256)
        )
        const storage = new FilesystemDriver({ root })
        for (const hash of resolved)
          expect({ round, hash, present: await storage.exists(hash) }).toEqual({ round, hash, present: true })
        // every aged frame was chosen: deleted, or kept because a store renewed it
        expect(report.deleted + report.renewed + report.recent).toBeGreaterThanOrEqual(30)
        for (const hash of hashes) await storage.delete(hash)
      }
    }
  )
})
