// Eviction (evict.ts) over two real filesystem stores: a primary copy goes only once a replica copy
// was read back and hashed in the same operation; what `keep` names and young frames stay; bad
// options are refused before anything is read.
import { readFile, utimes, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { minCopiesProblem } from '../../../src/features/replication/evict.js'
import { PRIMARY } from '../../../src/features/replication/ledger.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { DAY, pair } from './helpers.js'

describe('evict', () => {
  it(
    'evict frees old primary copies whose replica copy is verified ' +
      'now; the frame is still served; never the last copy',
    async () => {
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
      // the listing alone cannot see the damaged copy
      expect(dry).toMatchObject({ wouldEvict: 2, unsafe: 1, evicted: 0 })
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
    }
  )

  it(
    'records the eviction in the ledger (with the last store) ' + 'and the proof of each replica copy (rehash)',
    async () => {
      const { storage, primary } = await pair()
      const { hash, sha256, path } = await storage.store(testJpeg('evict ledger', 10_000))
      await storage.drain()
      const old = new Date(Date.now() - 40 * DAY)
      await utimes(path, old, old)
      const lastStoredAt = (await primary.stat(hash)).lastStoredAt!.getTime()
      const started = Date.now()
      expect(await storage.evict({ olderThan: 30 * DAY })).toMatchObject({ examined: 1, evicted: 1 })
      const { ledger } = partsOf(storage)
      expect(ledger.lookup(PRIMARY, sha256)).toMatchObject({ how: 'evicted', lastStoredAt })
      expect(ledger.lookup(PRIMARY, sha256)!.at).toBeGreaterThanOrEqual(started)
      expect(ledger.lookup('copy', sha256)).toMatchObject({ how: 'rehash' })
      expect(ledger.isEvicted(sha256)).toBe(true)
      // the listing of the store still has it, with its last store on the primary
      const listed = []
      for await (const entry of storage.list()) listed.push(entry)
      expect(listed).toMatchObject([{ sha256, lastStoredAt: new Date(lastStoredAt) }])
      await storage.close()
    }
  )

  it('what keep names is protected, a young frame kept: neither is read nor evicted', async () => {
    const { storage, primary } = await pair()
    const kept = await storage.store(testJpeg('evict keep'))
    const young = await storage.store(testJpeg('evict young'))
    await storage.drain()
    const old = new Date(Date.now() - 40 * DAY)
    await utimes(kept.path, old, old)
    const report = await storage.evict({ olderThan: 30 * DAY, keep: [kept.hash] })
    expect(report).toMatchObject({ examined: 2, protected: 1, kept: 1, evicted: 0, unsafe: 0 })
    expect(await primary.exists(kept.hash)).toBe(true)
    expect(await primary.exists(young.hash)).toBe(true)
    await storage.close()
  })

  it('bad options are a ConfigError naming the option, before anything is listed', async () => {
    const { storage } = await pair()
    await expect(storage.evict({ olderThan: -1 })).rejects.toMatchObject({ code: 'ERR_CONFIG', variable: 'olderThan' })
    await expect(storage.evict({ olderThan: Number.NaN })).rejects.toMatchObject({ variable: 'olderThan' })
    await expect(storage.evict({ olderThan: DAY, minCopies: 2 })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      variable: 'minCopies',
      message: 'minCopies: 2 replica copies cannot be proved: there is one replica (copy); expected 1'
    })
    await expect(storage.evict({ olderThan: DAY, minCopies: 0.5 })).rejects.toMatchObject({ variable: 'minCopies' })
    expect(minCopiesProblem(3, ['s3', 'ipfs'])).toBe(
      '3 replica copies cannot be proved: there are 2 replicas (s3, ipfs); expected a whole number from 1 to 2'
    )
    await storage.close()
  })
})
