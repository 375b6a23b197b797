// Replication between two real filesystem stores: the outbox, the copier, healing, eviction,
// retention over copies, and the listing of every copy. (S3 and IPFS replicas: s3.test.ts, ipfs.test.ts.)
import { createHash } from 'node:crypto'
import { readdir, readFile, rm, truncate, unlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PrefixSharding } from '../../../src/core/sharding.js'
import type { ImageStorage } from '../../../src/core/types.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { prune } from '../../../src/features/retention/prune.js'
import {
  createReplicatedStorage,
  type ReplicatedStorage,
  replicaOwners,
  takeOver
} from '../../../src/features/replication/index.js'
import { describeImageStorage, testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const DAY = 24 * 3600 * 1000

async function pair(
  init: { background?: boolean; ack?: 1 | 2; stormLimit?: number } = {}
): Promise<{ storage: ReplicatedStorage; primary: FilesystemDriver; replica: FilesystemDriver }> {
  const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
  const replica = new FilesystemDriver({ root: await tempDir('sai-replica') })
  const storage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'copy', storage: replica }],
    background: false,
    ...init
  })
  return { storage, primary, replica }
}

/** The same replicated store, its primary and replica opened with another layout setting (a wrong SHARD_DEPTH). */
function withLayout(storage: ImageStorage, layout: { depth: number; width: number }): ImageStorage {
  const { primary, replicas } = storage as ReplicatedStorage
  const wrong = (s: ImageStorage): FilesystemDriver =>
    new FilesystemDriver({ root: s.root!, sharding: new PrefixSharding(layout) })
  return createReplicatedStorage({
    primary: wrong(primary),
    replicas: replicas.map(r => ({ name: r.name, storage: wrong(r.storage) })),
    background: false,
    stateDir: join(primary.root!, '.replication')
  })
}

describeImageStorage(
  { name: 'ReplicatedStorage (fs to fs)', create: async () => (await pair({ background: true })).storage, withLayout },
  { describe, it, expect }
)

describe('replication between two filesystem stores', () => {
  it('a store resolves with its outbox entry durable; a drain copies it, verified, and empties the outbox', async () => {
    const { storage, primary, replica } = await pair()
    const jpeg = testJpeg('outbox', 20_000)
    const stored = await storage.store(jpeg)
    expect(stored.path).toBe(primary.pathOf(stored.hash))
    expect(await readdir(join(primary.root, '.replication', 'outbox', 'copy'))).toEqual([stored.sha256])
    expect(await replica.exists(stored.hash)).toBe(false)
    expect(storage.status().replicas[0]).toMatchObject({ name: 'copy', pending: 1 })
    const drained = await storage.drain()
    expect(drained).toMatchObject({ copied: 1, failed: [], pending: 0 })
    expect(Buffer.compare(await replica.fetch(stored.hash), jpeg)).toBe(0)
    expect(await readdir(join(primary.root, '.replication', 'outbox', 'copy'))).toEqual([])
    const where = await storage.whereis(stored.hash)
    expect(where.copies).toMatchObject([
      { name: 'primary', present: true, size: jpeg.length },
      { name: 'copy', present: true, how: 'upload' }
    ])
    await storage.close()
  })

  it('in the background, stores are copied without anyone waiting; close stops it, the rest stays queued', async () => {
    const { storage, replica } = await pair({ background: true })
    const hashes = []
    for (let i = 0; i < 10; i++) hashes.push((await storage.store(testJpeg(`background ${i}`))).hash)
    for (let wait = 0; wait < 100 && storage.status().replicas[0]!.pending > 0; wait++)
      await new Promise(resolve => setTimeout(resolve, 50))
    expect(storage.status().replicas[0]!.pending).toBe(0)
    for (const hash of hashes) expect(await replica.exists(hash)).toBe(true)
    await storage.close()
  })

  it('ack: 2 waits for a replica copy; with the replica gone, the store fails and the frame stays on the primary, queued', async () => {
    const { storage, primary, replica } = await pair({ ack: 2 })
    const jpeg = testJpeg('ack 2')
    const { hash } = await storage.store(jpeg)
    expect(await replica.exists(hash)).toBe(true)
    const broken = createReplicatedStorage({
      primary,
      replicas: [
        { name: 'copy', storage: new FilesystemDriver({ root: join(replica.root, 'gone'), createRoot: false }) }
      ],
      ack: 2,
      ackTimeoutMs: 2000,
      background: false
    })
    const other = testJpeg('ack 2 down')
    await expect(broken.store(other)).rejects.toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining('queued for replication')
    })
    expect(await primary.exists(createHash('sha256').update(other).digest('hex'))).toBe(true)
    expect(broken.status().replicas[0]!.pending).toBe(1)
    await broken.close()
  })

  it('a flipped byte, a truncated file and a deleted file on the primary are healed on the next fetch, with the exact bytes', async () => {
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
  })

  it('verify --repair heals from the replica (flipped, truncated, deleted), says which copy, and is clean', async () => {
    const { storage, primary } = await pair()
    const frames = ['flipped', 'truncated', 'deleted', 'intact'].map(seed => testJpeg(`repair ${seed}`, 40_000))
    const stored = []
    for (const frame of frames) stored.push(await storage.store(frame))
    await storage.drain()
    const bytes = await readFile(stored[0]!.path)
    bytes[100] ^= 0x01
    await writeFile(stored[0]!.path, bytes)
    await truncate(stored[1]!.path, 5000)
    await unlink(stored[2]!.path)
    const found = await storage.verify()
    expect(found.clean).toBe(false)
    expect(found.counts).toMatchObject({ corrupt: 1, truncated: 1, missing: 1 })
    const repaired = await storage.verify({ repair: true })
    expect(repaired).toMatchObject({ clean: true, restored: 3, quarantined: 0 })
    for (const [i, frame] of frames.entries())
      expect(Buffer.compare(await primary.fetch(stored[i]!.hash), frame)).toBe(0)
    expect((await storage.verify()).clean).toBe(true)
    await storage.close()
  })

  it('without a good copy, a repair quarantines the frame and is not clean: the frame is lost from the store', async () => {
    const { storage, primary, replica } = await pair()
    const { hash, path } = await storage.store(testJpeg('lost', 10_000))
    await storage.drain()
    await replica.delete(hash)
    await truncate(path, 100)
    const repaired = await storage.verify({ repair: true })
    expect(repaired).toMatchObject({ clean: false, quarantined: 1 })
    expect(await primary.exists(hash)).toBe(false)
    await storage.close()
  })

  it('the storm guard: a primary root replaced by an empty folder makes verify --repair refuse, unless forced', async () => {
    const { storage, primary } = await pair({ stormLimit: 5 })
    for (let i = 0; i < 12; i++) await storage.store(testJpeg(`storm ${i}`))
    await storage.drain()
    const { me: owner } = await replicaOwners(storage)
    await rm(primary.root, { recursive: true })
    const emptied = new FilesystemDriver({ root: primary.root }) // a new process sees an empty folder there
    const fresh = createReplicatedStorage({
      primary: emptied,
      replicas: storage.replicas,
      background: false,
      stormLimit: 5,
      stateDir: join(primary.root, '.replication')
    })
    // first the replica's owner mark: this state folder lost its host id (owner.ts), refused until taken over
    await expect(fresh.verify({ repair: true })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('this very state folder: its host-id is gone')
    })
    await takeOver(fresh, owner.id)
    const refused = await fresh.verify({ repair: true })
    expect(refused).toMatchObject({ clean: false, storm: { damaged: 12, limit: 5 }, restored: 0 })
    let onPrimary = 0
    for await (const _ of emptied.list()) onPrimary++
    expect(onPrimary).toBe(0) // nothing was written
    const forced = await fresh.verify({ repair: true, force: true })
    expect(forced).toMatchObject({ restored: 12, clean: true })
    await fresh.close()
  })

  it('evict frees old primary copies whose replica copy is verified now; the frame is still served; never the last copy', async () => {
    const { storage, primary, replica } = await pair()
    const frames = [0, 1, 2, 3].map(i => testJpeg(`evict ${i}`, 30_000))
    const stored = []
    for (const frame of frames) stored.push(await storage.store(frame))
    await storage.drain()
    const old = new Date(Date.now() - 40 * DAY)
    for (const s of stored.slice(0, 3)) await utimes(s.path, old, old)
    // a replica copy damaged, one deleted: those primary copies must stay
    const damaged = await readFile(replica.pathOf(stored[1]!.hash))
    damaged[1000] ^= 0xff
    await writeFile(replica.pathOf(stored[1]!.hash), damaged)
    await replica.delete(stored[2]!.hash)
    const dry = await storage.evict({ olderThan: 30 * DAY, dryRun: true })
    expect(dry).toMatchObject({ wouldEvict: 2, unsafe: 1, evicted: 0 }) // the listing alone cannot see the damaged copy
    const report = await storage.evict({ olderThan: 30 * DAY })
    expect(report).toMatchObject({ evicted: 1, unsafe: 2, kept: 1, bytesFreed: 30_000 })
    expect(report.unsafeObjects.map(u => u.copies.copy).sort()).toEqual(['ERR_INTEGRITY', 'missing'])
    expect(await Promise.all(stored.map(async s => await primary.exists(s.hash)))).toEqual([false, true, true, true])
    // still served, verified, from the replica; not written back (it was evicted on purpose)
    expect(Buffer.compare(await storage.fetch(stored[0]!.hash), frames[0]!)).toBe(0)
    expect(await primary.exists(stored[0]!.hash)).toBe(false)
    expect((await storage.whereis(stored[0]!.hash)).copies[0]).toMatchObject({
      name: 'primary',
      present: false,
      evictedAt: expect.any(Date)
    })
    // the unsafe ones were queued to be copied again
    expect(storage.status().replicas[0]!.pending).toBe(2)
    await storage.close()
  })

  it('prune over the copies deletes every copy; an evicted frame is pruned by its last store on the primary', async () => {
    const { storage, primary, replica } = await pair()
    const stored = []
    for (let i = 0; i < 4; i++) stored.push(await storage.store(testJpeg(`prune copies ${i}`)))
    await storage.drain()
    for (const [i, s] of stored.entries()) {
      const when = new Date(Date.now() - [100, 60, 10, 1][i]! * DAY)
      await utimes(s.path, when, when)
    }
    expect(await storage.evict({ olderThan: 50 * DAY })).toMatchObject({ evicted: 2 })
    const listed = []
    for await (const entry of storage.list()) listed.push(entry.sha256)
    expect(listed.sort()).toEqual(stored.map(s => s.sha256).sort()) // the union of the copies
    const report = await prune(storage, { olderThan: 80 * DAY })
    expect(report).toMatchObject({ deleted: 1 }) // the 100-day frame: its age is its last store, not the replica's upload
    expect(await replica.exists(stored[0]!.hash)).toBe(false)
    expect(await storage.exists(stored[1]!.hash)).toBe(true)
    expect(await primary.exists(stored[2]!.hash)).toBe(true)
    await storage.close()
  })

  it('reconcile finds what the outbox lost, with no request per object, and status says so', async () => {
    const { storage, primary, replica } = await pair()
    const stored = []
    for (let i = 0; i < 30; i++) stored.push(await storage.store(testJpeg(`reconcile ${i}`)))
    await rm(join(primary.root, '.replication', 'outbox'), { recursive: true }) // lost: a disk swap, a bad restore
    expect(storage.status().replicas[0]!.pending).toBe(0)
    const report = await storage.reconcile()
    expect(report).toMatchObject({
      primary: 30,
      belowWantedCopies: 30,
      replicas: [{ name: 'copy', missing: 30, present: 0 }]
    })
    expect(storage.status()).toMatchObject({ belowWantedCopies: 30, replicas: [{ pending: 30 }] })
    await storage.drain()
    for (const s of stored) expect(await replica.exists(s.hash)).toBe(true)
    expect(await storage.reconcile()).toMatchObject({ belowWantedCopies: 0, replicas: [{ present: 30, missing: 0 }] })
    await storage.close()
  })
})
