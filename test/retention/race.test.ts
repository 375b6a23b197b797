import { mkdir, readdir, rename, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { startChild } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'

const DAY = 24 * 3600 * 1000
const YEAR_AGO = new Date(Date.now() - 365 * DAY)
const SIZE = 4_000

/** A store of `count` images, all last stored a year ago. */
async function oldStore (count: number, label: string): Promise<{ root: string, storage: FilesystemDriver, seeds: string[], hashes: string[] }> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const seeds = Array.from({ length: count }, (_, i) => `${label} ${i}`)
  const hashes = []
  for (const seed of seeds) {
    const { hash, path } = await storage.store(testJpeg(seed, SIZE))
    await utimes(path, YEAR_AGO, YEAR_AGO)
    hashes.push(hash)
  }
  return { root, storage, seeds, hashes }
}

const shuffle = <T>(items: T[]): T[] => items.map(item => ({ item, k: Math.random() })).sort((a, b) => a.k - b.k).map(x => x.item)

async function intact (storage: FilesystemDriver, seed: string, hash: string): Promise<boolean> {
  if (!await storage.exists(hash)) return false
  return Buffer.compare(await storage.fetch(hash), testJpeg(seed, SIZE)) === 0
}

describe('prune against stores and kills in other processes', () => {
  it('every store that resolves keeps its object, whatever the interleaving (30 rounds, 3 processes each)', async () => {
    const seen = { putBack: 0, writtenAnew: 0, deleted: 0 }
    for (let round = 0; round < 30; round++) {
      const { root, storage, seeds, hashes } = await oldStore(60, `race ${round}`)
      const restored = shuffle(seeds.filter((_, i) => i % 2 === 0))
      const startAt = Date.now() + 500
      const jitter = (): number => Math.floor(Math.random() * 60) - 20
      const pruner = startChild('prune', { root, olderThan: DAY, startAt, concurrency: 8 })
      const storers = [restored.slice(0, 15), restored.slice(15)].map(part => startChild('restore', { root, seeds: part, size: SIZE, startAt: startAt + jitter() }))
      expect(await Promise.all([pruner, ...storers].map(c => c.done))).toEqual([0, 0, 0])
      const stores = storers.flatMap(c => c.lines())
      expect(stores).toHaveLength(30)
      const report = pruner.lines().find(l => 'examined' in l)
      for (const [i, seed] of seeds.entries()) {
        // re-stored: present and intact; never stored again: pruned
        expect({ seed, present: await intact(storage, seed, hashes[i]!) }).toEqual({ seed, present: i % 2 === 0 })
      }
      expect(report.deleted).toBeGreaterThanOrEqual(30)
      expect((await storage.verify()).problems).toEqual([]) // nothing left set aside
      expect(await readdir(join(root, '.pruning'))).toEqual([])
      seen.putBack += report.renewed
      seen.writtenAnew += stores.filter(s => s.isDuplicate === false).length
      seen.deleted += report.deleted - 30
    }
    console.log(`prune race: ${seen.putBack} renewed objects put back, ${seen.writtenAnew} stores wrote anew what the prune had taken, ${seen.deleted} re-stored objects pruned before their store (then written anew)`)
    // the rounds did race: the prune met renewed objects, or stores met pruned ones
    expect(seen.putBack + seen.writtenAnew).toBeGreaterThan(0)
  }, 300_000)

  it('a SIGKILL at any moment of a prune leaves each object present, deleted, or set aside; verify --repair puts the set-aside back', async () => {
    const seen = { setAside: 0, deleted: 0, kept: 0 }
    for (let round = 0; round < 12; round++) {
      const { root, storage, seeds, hashes } = await oldStore(150, `kill ${round}`)
      const keep = hashes.filter((_, i) => i % 10 === 0)
      const pruner = startChild('prune', { root, olderThan: DAY, keep, concurrency: 4 })
      while (!pruner.lines().some(l => l.started === true)) await new Promise(resolve => setTimeout(resolve, 2))
      await new Promise(resolve => setTimeout(resolve, 5 + round * 8))
      pruner.child.kill('SIGKILL')
      expect(await pruner.done).toBeNull()

      const before = await storage.verify()
      expect(before.problems.filter(p => p.reason !== 'set-aside')).toEqual([]) // never half
      seen.setAside += before.problems.length
      expect((await storage.verify({ repair: true })).problems.every(p => p.reason === 'set-aside' && p.movedTo !== undefined)).toBe(true)
      expect(await storage.verify()).toMatchObject({ problems: [], clean: true })
      expect(await readdir(join(root, '.pruning')).catch(() => [])).toEqual([])
      for (const [i, seed] of seeds.entries()) {
        const present = await intact(storage, seed, hashes[i]!)
        if (i % 10 === 0) expect({ seed, present }).toEqual({ seed, present: true }) // protected
        if (present) seen.kept++; else seen.deleted++
        if (!present) expect(await storage.exists(hashes[i]!)).toBe(false) // absent, not damaged
      }
    }
    console.log(`prune kill: ${seen.setAside} objects found set aside and restored, ${seen.deleted} deleted, ${seen.kept} present over 12 kills`)
    expect(seen.deleted).toBeGreaterThan(0) // the kills came during the prune, not before it
    expect(seen.kept).toBeGreaterThan(12 * 15)
  }, 300_000)

  it('verify reports an object set aside by a killed prune, and --repair links it back without overwriting', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const a = await storage.store(testJpeg('aside a'))
    const b = await storage.store(testJpeg('aside b'))
    await mkdir(join(root, '.pruning'))
    await rename(a.path, join(root, '.pruning', `${a.hash}.1b4e28ba-2fa1-11d2-883f-0016d3cca427`))
    await rename(b.path, join(root, '.pruning', `${b.hash}.6fa459ea-ee8a-3ca4-894e-db77e160355e`))
    await storage.store(testJpeg('aside b')) // stored anew meanwhile: the set-aside copy must not overwrite it
    const found = await storage.verify()
    expect(found).toMatchObject({ clean: false })
    expect(found.problems.map(p => p.reason)).toEqual(['set-aside', 'set-aside'])
    const repaired = await storage.verify({ repair: true })
    expect(repaired.problems.map(p => p.movedTo).sort()).toEqual([a.path, b.path].sort())
    expect(Buffer.compare(await storage.fetch(a.hash), testJpeg('aside a'))).toBe(0)
    expect(Buffer.compare(await storage.fetch(b.hash), testJpeg('aside b'))).toBe(0)
    expect(await readdir(join(root, '.pruning'))).toEqual([])
    expect((await storage.verify()).clean).toBe(true)
  })
})
