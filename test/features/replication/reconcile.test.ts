// The reconcile (reconcile.ts) over two real filesystem stores: the listings side by side find what
// a replica lacks or holds of another size (queued), what only it holds (evicted or extra: left
// alone), compact the ledger, and keep the report for status (reconcile.json).
import { readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { DAY, namesIn, pair, sha256Of } from './helpers.js'

describe('reconcile', () => {
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

  it(
    'a copy of another size is queued (mismatched); one only on ' + 'the replica is evicted or extra, left alone',
    async () => {
      const { storage, primary, replica, state } = await pair()
      const [same, resized, evicted] = [
        await storage.store(testJpeg('reconcile same')),
        await storage.store(testJpeg('reconcile resized')),
        await storage.store(testJpeg('reconcile evicted'))
      ]
      await storage.drain()
      await writeFile(replica.pathOf(resized.hash), Buffer.from('a shorter file'))
      const old = new Date(Date.now() - 40 * DAY)
      await utimes(evicted.path, old, old)
      expect(await storage.evict({ olderThan: 30 * DAY })).toMatchObject({ evicted: 1 })
      const extra = await replica.store(testJpeg('reconcile extra'))
      const report = await storage.reconcile()
      expect(report).toMatchObject({
        primary: 2,
        replicas: [{ name: 'copy', present: 1, missing: 0, mismatched: 1, evicted: 1, extra: 1 }],
        // the extra frame, on one copy of two (a copy of another size is held until it is replaced; an
        // evicted frame wants the replicas only)
        belowWantedCopies: 1,
        lost: 0,
        interrupted: false
      })
      expect(await namesIn(join(state, 'outbox', 'copy'))).toEqual([resized.sha256])
      expect(await replica.exists(extra.hash)).toBe(true) // of unknown origin: not deleted
      expect(await primary.exists(same.hash)).toBe(true)
      const kept = JSON.parse(await readFile(join(state, 'reconcile.json'), 'utf8'))
      expect(kept).toEqual(JSON.parse(JSON.stringify(report)))
      expect(storage.status().replicas[0]!.lastReconcile).toEqual(report.replicas[0])
      await storage.close()
    }
  )

  it('compacts the ledger: the records of frames deleted on purpose go; a frame lost by hand stays, lost', async () => {
    const { storage, primary, replica } = await pair()
    // two frames in one ledger shard (the first two hex digits): the pass compacts the shards it visits
    const frames = new Map<string, Buffer>()
    let sameShard: Buffer[] = []
    for (let i = 0; sameShard.length === 0; i++) {
      const frame = testJpeg(`compact ${i}`)
      const shard = sha256Of(frame).slice(0, 2)
      const other = frames.get(shard)
      if (other !== undefined) sameShard = [other, frame]
      frames.set(shard, frame)
    }
    const kept = await storage.store(sameShard[0]!)
    const dropped = await storage.store(sameShard[1]!)
    await storage.drain()
    const { ledger } = partsOf(storage)
    const before = ledger.lookup('copy', kept.sha256)
    expect(before?.how).toBe('upload')
    expect(ledger.lookup('copy', dropped.sha256)?.how).toBe('upload')
    await primary.delete(dropped.hash) // behind the store's back: no copy of it is left
    await replica.delete(dropped.hash)
    // the ledger knew it: lost, at every pass (its record outlives the compaction), until deleted on purpose
    for (let pass = 0; pass < 2; pass++) {
      expect(await storage.reconcile()).toMatchObject({ primary: 1, lost: 1, replicas: [{ present: 1 }] })
      expect(ledger.lookup('copy', dropped.sha256)?.how).toBe('upload')
    }
    expect(await storage.delete(dropped.hash)).toBe(true)
    expect(await storage.reconcile()).toMatchObject({ primary: 1, lost: 0, replicas: [{ present: 1 }] })
    expect(ledger.lookup('copy', kept.sha256)).toEqual(before)
    expect(ledger.lookup('copy', dropped.sha256)).toBeUndefined()
    await rm(join(storage.stateDir, 'ledger'), { recursive: true }) // lost: the listing is the proof
    await storage.reconcile()
    expect(ledger.lookup('copy', kept.sha256)).toMatchObject({ how: 'listed' })
    await storage.close()
  })
})

describe('reconcile beside evict', () => {
  it("an eviction during a pass keeps its mark: the loss of the frame's last copy is reported", async () => {
    // two frames in one ledger shard: the pass reads the shard's records at the first, then evict marks the second
    const seen = new Map<string, Buffer>()
    let frames: Buffer[] | undefined
    for (let i = 0; frames === undefined; i++) {
      const frame = testJpeg(`shard mate ${i}`, 2000)
      const other = seen.get(sha256Of(frame).slice(0, 2))
      if (other === undefined) seen.set(sha256Of(frame).slice(0, 2), frame)
      else frames = [other, frame].sort((x, y) => (sha256Of(x) < sha256Of(y) ? -1 : 1))
    }
    const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
    const real = new FilesystemDriver({ root: await tempDir('sai-replica') })
    let during: (() => Promise<void>) | undefined
    // the real replica, its listing paused once after the first entry (the moment cannot be caused otherwise)
    const replica = new Proxy(real, {
      get(target, property) {
        if (property !== 'list') return Reflect.get(target, property, target)
        return async function* (options?: object) {
          for await (const entry of target.list(options)) {
            const work = during
            during = undefined
            await work?.()
            yield entry
          }
        }
      }
    })
    const storage = createReplicatedStorage({
      primary,
      replicas: [{ name: 'copy', storage: replica }],
      background: false
    })
    const [a, b] = [await storage.store(frames[0]!), await storage.store(frames[1]!)]
    await storage.drain()
    const later = new Date(Date.now() + DAY)
    during = async () => {
      expect(await storage.evict({ olderThan: 0, now: later, keep: [a!.sha256] })).toMatchObject({ evicted: 1 })
    }
    await storage.reconcile()
    expect(during).toBeUndefined() // the eviction did run inside the pass
    expect(await primary.exists(b!.sha256)).toBe(false)
    expect(await storage.reconcile()).toMatchObject({ lost: 0 })
    await real.delete(b!.sha256) // the replica loses the evicted frame's only copy
    expect(await storage.reconcile()).toMatchObject({ lost: 1 })
    expect(await storage.verify()).toMatchObject({ clean: false })
    await storage.close()
  })
})
