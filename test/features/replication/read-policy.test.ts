// The one read policy (reads.ts) at its edges: a heal never brings back a frame a delete is removing, two reads of
// one damaged frame heal it once, a damaged primary copy with a replica that cannot be asked is "unavailable" (not
// "no good copy left"), and a damaged replica copy met by a read is recorded at once.
import { rename, unlink } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { flip, keepingLogger, namesIn, pair } from './helpers.js'

/** `target`, its `method` held (while `armed`) until `release()`; `reached` resolves when a call gets there. */
function holding<T extends object>(target: T, method: string, armed = () => true) {
  let release!: () => void
  const gate = new Promise<void>(resolve => {
    release = resolve
  })
  let reach!: () => void
  const reached = new Promise<void>(resolve => {
    reach = resolve
  })
  const proxy = new Proxy(target, {
    get(real, name) {
      const value = Reflect.get(real, name, real)
      if (name === method && armed())
        return async (...args: unknown[]) => {
          reach()
          await gate
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(real, args)
        }
      return typeof value === 'function' ? value.bind(real) : value
    }
  })
  return { proxy, reached, release }
}

describe('the read policy at its edges', () => {
  it("a read in a delete's window (the primary's copy gone, the replica's not yet) serves it, and heals nothing back", async () => {
    const { primary, replica } = await pair()
    // the real replica, its delete held until the read is done: the window a slow replica (S3) opens
    const { proxy: slow, reached: reachedReplica, release } = holding(replica, 'delete')
    const storage = createReplicatedStorage({ primary, replicas: [{ name: 'copy', storage: slow }], background: false })
    const bytes = testJpeg('delete window', 40_000)
    const { hash } = await storage.store(bytes)
    await storage.drain()
    const deleted = storage.delete(hash)
    await reachedReplica
    // the copies' deletes run side by side: the primary's ends on its own, the replica's is held
    for (const until = Date.now() + 10_000; (await primary.exists(hash)) && Date.now() < until; )
      await new Promise(resolve => setTimeout(resolve, 10))
    expect(await primary.exists(hash)).toBe(false)
    expect(await storage.fetch(hash)).toEqual(bytes) // the replica's copy still answers
    release()
    expect(await deleted).toBe(true)
    expect({ primary: await primary.exists(hash), replica: await replica.exists(hash) }).toEqual({
      primary: false,
      replica: false
    })
    expect(await storage.exists(hash)).toBe(false)
    expect(storage.status().heals.healed).toBe(0)
    expect(await namesIn(`${primary.root}/.quarantine`)).toEqual([])
    await storage.close()
  })

  it('a heal already past its check when a delete begins is waited for, then deleted: the delete is never undone', async () => {
    const { primary, replica } = await pair()
    let held = false
    // the real primary, the heal's write-back held once it has passed its `gone` check
    const { proxy: slow, reached: reachedStore, release } = holding(primary, 'store', () => held)
    const storage = createReplicatedStorage({ primary: slow, replicas: [{ name: 'copy', storage: replica }] })
    const bytes = testJpeg('heal then delete', 40_000)
    const { hash, path } = await storage.store(bytes)
    await storage.drain()
    await unlink(path)
    held = true
    const read = storage.fetch(hash)
    await reachedStore
    const deleted = storage.delete(hash)
    await new Promise(resolve => setTimeout(resolve, 200)) // time for a delete that does not wait to end
    release()
    expect(await read).toEqual(bytes)
    expect(await deleted).toBe(true)
    expect({ primary: await primary.exists(hash), replica: await replica.exists(hash) }).toEqual({
      primary: false,
      replica: false
    })
    expect(await storage.exists(hash)).toBe(false)
    await storage.reconcile()
    expect((await storage.drain()).copied).toBe(0) // nothing queued: the frame is copied out nowhere
    expect(await replica.exists(hash)).toBe(false)
    await storage.close()
  })

  it('four reads of one damaged frame at once heal it once: the good copy a heal made is never quarantined', async () => {
    const { storage, primary } = await pair()
    const bytes = testJpeg('four readers', 300_000)
    const { hash, path } = await storage.store(bytes)
    await storage.drain()
    await flip(path)
    const read = await Promise.all([0, 1, 2, 3].map(async () => await storage.fetch(hash)))
    for (const got of read) expect(got).toEqual(bytes)
    expect(await primary.fetch(hash)).toEqual(bytes)
    expect(storage.status().heals.healed).toBe(1)
    expect(await namesIn(`${primary.root}/.quarantine`)).toHaveLength(1)
    await storage.close()
  })

  it('a damaged primary copy and a replica that cannot be asked: unavailable (503), not "no good copy left"', async () => {
    const { logger, logged } = keepingLogger()
    const { storage, primary, replica } = await pair({ logger })
    const bytes = testJpeg('replica down', 30_000)
    const { hash, path } = await storage.store(bytes)
    await storage.drain()
    await flip(path)
    await rename(replica.root, `${replica.root}.unmounted`) // the replica's disk gone
    await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    expect(logged.filter(l => l.fields.event === 'replication.no-good-copy')).toEqual([])
    await rename(`${replica.root}.unmounted`, replica.root)
    expect(await storage.fetch(hash)).toEqual(bytes) // back: served and healed
    expect(await primary.fetch(hash)).toEqual(bytes)
    await storage.close()
  })

  it('a damaged replica copy met by a read is recorded at once: whereis shows it, before any verify', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
    const [first, second] = [
      new FilesystemDriver({ root: await tempDir('sai-one') }),
      new FilesystemDriver({ root: await tempDir('sai-two') })
    ]
    const storage = createReplicatedStorage({
      primary,
      replicas: [
        { name: 'one', storage: first },
        { name: 'two', storage: second }
      ],
      background: false
    })
    const bytes = testJpeg('damaged replica', 30_000)
    const { hash, path } = await storage.store(bytes)
    await storage.drain()
    await flip(first.pathOf(hash))
    await rename(path, `${path}.gone`) // the primary's copy missing: the read goes to the replicas, first "one"
    expect(await storage.fetch(hash)).toEqual(bytes) // from "two"
    const where = await storage.whereis(hash)
    expect(where.copies.find(c => c.name === 'one')).toMatchObject({ present: true, damagedAt: expect.any(Date) })
    expect(where.copies.find(c => c.name === 'two')?.damagedAt).toBeUndefined()
    await storage.close()
  })
})
