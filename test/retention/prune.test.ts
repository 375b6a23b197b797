import { existsSync } from 'node:fs'
import { utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, inject, it, vi } from 'vitest'
import { FilesystemDriver } from '../../drivers/fs/index.js'
import { IpfsDriver } from '../../drivers/ipfs/index.js'
import { MemoryDriver } from '../../drivers/memory.js'
import { sha256ToCid } from '../../src/core/ref.js'
import { prune, type PrunedObject } from '../../src/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { createVariants } from '../../src/variants/index.js'
import { tempDir } from '../helpers/tmp.js'

const DAY = 24 * 3600 * 1000

/** An fs store of `count` 10 kB images, image i last stored i+1 days ago (0 is the youngest). */
async function agedStore (count: number, label = 'aged'): Promise<{ storage: FilesystemDriver, root: string, hashes: string[] }> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const hashes: string[] = []
  for (let i = 0; i < count; i++) {
    const { hash, path } = await storage.store(testJpeg(`${label} ${i}`, 10_000))
    const at = new Date(Date.now() - (i + 1) * DAY)
    await utimes(path, at, at)
    hashes.push(hash)
  }
  return { storage, root, hashes }
}

async function present (storage: FilesystemDriver | MemoryDriver | IpfsDriver, hashes: string[]): Promise<boolean[]> {
  return await Promise.all(hashes.map(async h => await storage.exists(h)))
}

afterEach(() => { vi.useRealTimers() })

describe('prune', () => {
  it('by age: deletes what was last stored before olderThan, keeps the rest and the protected', async () => {
    const { storage, hashes } = await agedStore(10)
    const pruned: PrunedObject[] = []
    const report = await prune(storage, { olderThan: 5.5 * DAY, keep: [hashes[9]!, sha256ToCid(hashes[8]!)], onPrune: o => pruned.push(o) })
    // 6 to 10 days old: 5 to 9, of which 8 and 9 are protected
    expect(report).toMatchObject({ examined: 10, bytes: 100_000, deleted: 3, bytesFreed: 30_000, keptByAge: 5, protected: 2, renewed: 0, bytesLeft: 70_000, dryRun: false, interrupted: false })
    expect(pruned.map(o => o.ref).sort()).toEqual([hashes[5], hashes[6], hashes[7]].sort())
    expect(await present(storage, hashes)).toEqual([true, true, true, true, true, false, false, false, true, true])
    expect((await storage.verify()).problems).toEqual([])
  })

  it('by budget: oldest first until the total is at most maxBytes; protected objects count but stay', async () => {
    const { storage, hashes } = await agedStore(10)
    const keep = async function * (): AsyncGenerator<string> { yield hashes[9]! }
    const report = await prune(storage, { maxBytes: 45_000, keep: keep() })
    // 100 kB, 9 is protected: 8 down to 3 go (60 kB) to reach 40 kB <= 45 kB
    expect(report).toMatchObject({ examined: 10, deleted: 6, bytesFreed: 60_000, protected: 1, keptByAge: 3, bytesLeft: 40_000 })
    expect(await present(storage, hashes)).toEqual([true, true, true, false, false, false, false, false, false, true])
  })

  it('age and budget together; a predicate protects; the budget cannot go below what is protected', async () => {
    const { storage, hashes } = await agedStore(6)
    const report = await prune(storage, { olderThan: 4.5 * DAY, maxBytes: 0, keep: ref => ref === hashes[0] || ref === hashes[5] })
    expect(report).toMatchObject({ deleted: 4, protected: 2, bytesLeft: 20_000 })
    expect(await present(storage, hashes)).toEqual([true, false, false, false, false, true])
  })

  it('never prunes what was stored in the last second, whatever the budget', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const { hash } = await storage.store(testJpeg('just now'))
    expect(await prune(storage, { maxBytes: 0 })).toMatchObject({ deleted: 0, keptByAge: 1 })
    expect(await storage.exists(hash)).toBe(true)
  })

  it('a dry run reports what would go and deletes nothing', async () => {
    const { storage, hashes } = await agedStore(6)
    const pruned: PrunedObject[] = []
    const report = await prune(storage, { olderThan: 2.5 * DAY, dryRun: true, onPrune: o => pruned.push(o) })
    expect(report).toMatchObject({ deleted: 4, bytesFreed: 40_000, keptByAge: 2, dryRun: true })
    expect(pruned.map(o => o.ref).sort()).toEqual(hashes.slice(2).sort())
    expect(pruned.every(o => o.size === 10_000 && o.lastStoredAt instanceof Date)).toBe(true)
    expect(await present(storage, hashes)).toEqual(hashes.map(() => true))
  })

  it('removes the variants of each pruned object, and only theirs (the real variants cache)', async () => {
    const { storage, root, hashes } = await agedStore(3, 'variants')
    const variants = createVariants(storage)
    const made = await Promise.all(hashes.map(async h => await variants.get(h, 'thumb')))
    await variants.get(hashes[2]!, 'webp')
    const report = await prune(storage, { olderThan: 1.5 * DAY, variants })
    expect(report).toMatchObject({ deleted: 2, variantsRemoved: 3 })
    expect(made.map(v => existsSync(join(root, '.variants', v.key)))).toEqual([true, false, false])
  })

  it('the signal stops it: the report says interrupted and counts only what was done', async () => {
    const { storage, hashes } = await agedStore(20)
    const controller = new AbortController()
    const report = await prune(storage, { olderThan: 0, concurrency: 1, signal: controller.signal, onPrune: () => { controller.abort() } })
    expect(report.interrupted).toBe(true)
    expect(report.deleted).toBeGreaterThanOrEqual(1)
    expect((await present(storage, hashes)).filter(p => !p)).toHaveLength(report.deleted)
  })

  it('needs olderThan or maxBytes, each a number of at least 0', async () => {
    const storage = new MemoryDriver()
    await expect(prune(storage, {})).rejects.toThrow(TypeError)
    await expect(prune(storage, { olderThan: -1 })).rejects.toThrow(TypeError)
    await expect(prune(storage, { maxBytes: Number.NaN })).rejects.toThrow(TypeError)
  })

  it('memory: by age, with a duplicate store making an image young again', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const storage = new MemoryDriver()
    vi.setSystemTime(Date.now() - 10 * DAY)
    const old = await storage.store(testJpeg('memory old'))
    const renewed = await storage.store(testJpeg('memory renewed'))
    vi.useRealTimers()
    await storage.store(testJpeg('memory renewed'))
    const young = await storage.store(testJpeg('memory young'))
    const report = await prune(storage, { olderThan: DAY })
    expect(report).toMatchObject({ examined: 3, deleted: 1 })
    expect(await present(storage, [old.hash, renewed.hash])).toEqual([false, true])
    expect(await storage.exists(young.hash)).toBe(true)
  })
})

describe('prune on the real IPFS node', () => {
  const apiUrl = inject('ipfsApiUrl')

  it('unpins and unindexes what goes (age unknown: only the budget takes it), keeps the protected', async () => {
    const storage = new IpfsDriver({ url: apiUrl })
    const kept = await storage.store(testJpeg(`ipfs prune kept ${Date.now()}`))
    const gone = await storage.store(testJpeg(`ipfs prune gone ${Date.now()}`))
    // everything else on the shared node is protected by the predicate: only `gone` may go
    const keep = (ref: string): boolean => ref !== gone.sha256
    expect(await prune(storage, { olderThan: 0, keep })).toMatchObject({ deleted: 0, unknownAge: 1 })
    const report = await prune(storage, { maxBytes: 0, keep })
    expect(report).toMatchObject({ deleted: 1, bytesFreed: gone.size })
    expect(await storage.exists(gone.hash)).toBe(false)
    expect(await storage.exists(kept.hash)).toBe(true)
    const client = (await import('kubo-rpc-client')).create({ url: apiUrl })
    const pins: string[] = []
    for await (const pin of client.pin.ls({ type: 'recursive' })) pins.push(pin.cid.toString())
    expect(pins).toContain(kept.hash)
    expect(pins).not.toContain(gone.hash)
    const listed: string[] = []
    for await (const entry of storage.list()) listed.push(entry.hash)
    expect(listed).not.toContain(gone.hash)
    await storage.delete(kept.hash)
  })
})
