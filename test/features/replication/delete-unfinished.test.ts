// A replicated prune whose replica delete failed (a real read-only replica: EROFS; a power cut between the two
// deletes leaves the same files): the primary's copy is gone, the replica's is left. The reconcile keeps the
// primary's `gone` mark while that copy is there, so that the copy never counts as the store's: a read does not
// heal the deleted frame back, and the copy's loss is no LOST. A prune's rerun deletes it.
import { execFileSync } from 'node:child_process'
import { rm, utimes } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { prune } from '../../../src/features/retention/prune.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../../src/features/replication/index.js'
import { HOW, PRIMARY } from '../../../src/features/replication/ledger.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { smallTmpfs, tempDir } from '../../infra/helpers/tmp.js'
import { DAY, flip, sha256Of } from './helpers.js'

/** A prune by age (80 days) while the replica at `root` is read-only: its delete there fails, the prune with it. */
async function pruneReadOnly(storage: ReplicatedStorage, root: string): Promise<void> {
  execFileSync('mount', ['-o', 'remount,ro', root])
  try {
    await expect(prune(storage, { olderThan: 80 * DAY })).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
  } finally {
    execFileSync('mount', ['-o', 'remount,rw', root])
  }
}

/** A replicated store whose prune of one old frame could not reach its read-only replica: the leftover state. */
async function leftover(seed: string) {
  const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
  const replicaRoot = await smallTmpfs('8m')
  const replica = new FilesystemDriver({ root: replicaRoot })
  const storage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'copy', storage: replica }],
    background: false
  })
  const old = await storage.store(testJpeg(seed))
  await storage.drain()
  const when = new Date(Date.now() - 100 * DAY)
  await utimes(old.path, when, when)
  await pruneReadOnly(storage, replicaRoot)
  expect(await primary.exists(old.hash)).toBe(false)
  expect(await replica.exists(old.hash)).toBe(true)
  return { primary, replica, storage, old, when }
}

describe('a delete that did not reach a replica', () => {
  it('its copy there is no copy of the store: not healed back on a read, not lost when it goes; a rerun deletes it', async () => {
    const { primary, replica, storage, old, when } = await leftover('pruned while its replica was read-only')
    const kept = await storage.store(testJpeg('young, kept'))
    await storage.drain()
    // the first pass compacts the ledger: the mark survives it, and the second pass judges the same
    for (let pass = 0; pass < 2; pass++)
      expect(await storage.reconcile()).toMatchObject({
        primary: 1,
        lost: 0,
        belowWantedCopies: 0,
        replicas: [{ present: 1, extra: 1 }]
      })
    expect(partsOf(storage).ledger.lookup(PRIMARY, old.sha256)?.how).toBe(HOW.gone)
    // verify judges it so too: no finding (the primary's copy is not missing), nothing for a repair to heal
    const verified = await storage.verify({ repair: true })
    expect(verified).toMatchObject({ clean: true, copies: { belowWanted: 0, lost: 0 } })
    expect(verified.problems).toEqual([])
    expect(await primary.exists(old.hash)).toBe(false)
    // a read finds the replica's verified bytes, and does not write the deleted frame back to the primary
    expect((await storage.fetch(old.hash)).length).toBe(old.size)
    expect(await primary.exists(old.hash)).toBe(false)
    expect(await storage.drain()).toMatchObject({ copied: 0 })

    // the replica's copy removed by its own tools: a deleted frame, not a lost one
    const bytes = await replica.fetch(old.hash)
    await rm(replica.pathOf(old.hash))
    expect(await storage.reconcile()).toMatchObject({ lost: 0, belowWantedCopies: 0, replicas: [{ extra: 0 }] })
    expect(storage.status()).toMatchObject({ lost: 0, belowWantedCopies: 0 })

    // a copy made at the store (as the drain makes it), left by the failed delete: the rerun deletes it
    await replica.store(bytes)
    await utimes(replica.pathOf(old.hash), when, when)
    expect(await prune(storage, { olderThan: 80 * DAY })).toMatchObject({ deleted: 1 })
    expect(await replica.exists(old.hash)).toBe(false)
    expect(await storage.reconcile()).toMatchObject({ lost: 0, belowWantedCopies: 0, replicas: [{ extra: 0 }] })
    expect(await storage.exists(kept.hash)).toBe(true)
    await storage.close()
  })

  it('a copy by another process that lands after a delete is one the delete did not reach, never the store copy', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
    const replica = new FilesystemDriver({ root: await tempDir('sai-replica') })
    let landed: () => void = () => {}
    const deleted = new Promise<void>(resolve => {
      landed = resolve
    })
    // the service's copy is under way (its PUT slow) when the CLI's delete runs: it lands after the delete
    const slow = new Proxy(replica, {
      get(target, name) {
        if (name === 'store')
          return async (...args: Parameters<FilesystemDriver['store']>) => {
            await deleted
            return await target.store(...args)
          }
        const value = Reflect.get(target, name) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
    const service = createReplicatedStorage({ primary, replicas: [{ name: 'copy', storage: slow }], background: false })
    const cli = createReplicatedStorage({ primary, replicas: [{ name: 'copy', storage: replica }], background: false })
    const { hash } = await service.store(testJpeg('copied while the CLI deletes it'))
    const draining = service.drain()
    expect(await cli.delete(hash)).toBe(true)
    landed()
    expect(await draining).toMatchObject({ copied: 0, gone: 1 })
    expect(await replica.exists(hash)).toBe(true) // the stray copy, left (a prune's rerun deletes it)
    expect(partsOf(service).ledger.lookup('copy', sha256Of(await replica.fetch(hash)))?.how).toBe(HOW.gone)
    for (let pass = 0; pass < 2; pass++)
      expect(await service.reconcile()).toMatchObject({
        primary: 0,
        lost: 0,
        belowWantedCopies: 0,
        replicas: [{ extra: 1 }]
      })
    await service.fetch(hash).catch(() => undefined)
    expect(await primary.exists(hash)).toBe(false) // not healed back
    await rm(replica.pathOf(hash))
    expect(await service.reconcile()).toMatchObject({ lost: 0, replicas: [{ extra: 0 }] })
    await Promise.all([service.close(), cli.close()])
  })

  it('a leftover copy a read found damaged is not lost either: the mark stays through the passes', async () => {
    const { primary, replica, storage, old } = await leftover('pruned, its leftover then damaged')
    await flip(replica.pathOf(old.hash))
    await expect(storage.fetch(old.hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' }) // recorded damaged
    for (let pass = 0; pass < 2; pass++)
      expect(await storage.reconcile()).toMatchObject({ lost: 0, belowWantedCopies: 0, replicas: [{ extra: 1 }] })
    expect(partsOf(storage).ledger.lookup(PRIMARY, old.sha256)?.how).toBe(HOW.gone)
    expect(await storage.verify()).toMatchObject({ copies: { belowWanted: 0, lost: 0 } })
    expect(await primary.exists(old.hash)).toBe(false)
    await storage.close()
  })

  it('a delete by another process that runs whole between the copy and its record: no copy counted, no loss', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
    const replica = new FilesystemDriver({ root: await tempDir('sai-replica') })
    let during: (() => Promise<unknown>) | undefined
    // the service's copy has landed on the replica, not yet recorded: the CLI's delete runs whole right then
    const landing = new Proxy(replica, {
      get(target, name) {
        if (name === 'store')
          return async (...args: Parameters<FilesystemDriver['store']>) => {
            const stored = await target.store(...args)
            await during?.()
            return stored
          }
        const value = Reflect.get(target, name) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
    const service = createReplicatedStorage({
      primary,
      replicas: [{ name: 'copy', storage: landing }],
      background: false
    })
    const cli = createReplicatedStorage({ primary, replicas: [{ name: 'copy', storage: replica }], background: false })
    const { hash, sha256 } = await service.store(testJpeg('deleted between its copy and its record'))
    await service.drain()
    const other = testJpeg('stored, copied, then deleted between')
    const { hash: deleted } = await service.store(other)
    during = async () => {
      during = undefined
      return await cli.delete(deleted)
    }
    await service.drain()
    expect(during).toBeUndefined() // the delete ran, between the copy and its record
    expect(await replica.exists(deleted)).toBe(false)
    expect(partsOf(service).ledger.lookup('copy', sha256Of(other))?.how).toBe(HOW.gone)
    expect(await service.reconcile()).toMatchObject({ lost: 0, belowWantedCopies: 0, replicas: [{ present: 1 }] })
    expect(await service.exists(hash)).toBe(true)
    expect(partsOf(service).ledger.lookup('copy', sha256)?.how).toBe(HOW.upload)
    await Promise.all([service.close(), cli.close()])
  })

  it('a leftover beside a copy recorded after the delete (a store again, its primary copy lost): the store keeps it', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
    const leftRoot = await smallTmpfs('8m')
    const [left, later] = [new FilesystemDriver({ root: leftRoot }), new FilesystemDriver({ root: await tempDir('b') })]
    const replicas = [
      { name: 'left', storage: left },
      { name: 'later', storage: later }
    ]
    const storage = createReplicatedStorage({ primary, replicas, background: false })
    const bytes = testJpeg('a leftover and a later copy')
    const old = await storage.store(bytes)
    await storage.drain()
    const when = new Date(Date.now() - 100 * DAY)
    await utimes(old.path, when, when)
    await pruneReadOnly(storage, leftRoot)
    expect({ left: await left.exists(old.hash), later: await later.exists(old.hash) }).toEqual({
      left: true,
      later: false
    })
    // stored again and copied after the delete, as the copier records a copy; then its primary copy lost
    await later.store(bytes)
    await partsOf(storage).ledger.append('later', [{ sha256: old.sha256, at: Date.now(), how: HOW.upload }])
    for (let pass = 0; pass < 2; pass++)
      expect(await storage.reconcile()).toMatchObject({ lost: 0, belowWantedCopies: 1 })
    expect(partsOf(storage).ledger.lookup(PRIMARY, old.sha256)?.how).not.toBe(HOW.gone)
    expect((await storage.fetch(old.hash)).equals(bytes)).toBe(true)
    expect(await primary.exists(old.hash)).toBe(true) // healed: the frame is the store's
    await storage.close()
  })
})
