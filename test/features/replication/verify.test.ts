// The fsck of every copy (verify.ts, verify-repair.ts) over two real filesystem stores: what each
// copy lacks or holds damaged, the full tier that reads replica copies back, a repair that heals the
// primary and copies again what a replica lacks, the storm guard, and the counts kept for status.
import { mkdir, readFile, rm, truncate, unlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage, replicaOwners, takeOver } from '../../../src/features/replication/index.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { flip, namesIn, pair } from './helpers.js'

describe('verify over the copies', () => {
  it(
    'verify --repair heals from the replica (flipped, ' + 'truncated, deleted), says which copy, and is clean',
    async () => {
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
    }
  )

  it("verify reports what a crash left in a replica's own folders (the copier's temps); --repair sweeps the old ones", async () => {
    // the crash harness's replicated workload found them: a copier cut mid-copy left temps in the replica's .tmp,
    // and no verify --repair through the replicated store ever removed them (only a verify of the replica itself)
    const { storage, replica } = await pair()
    await storage.store(testJpeg('sweep', 10_000))
    await storage.drain()
    const temps = join(replica.root, '.tmp')
    await mkdir(temps, { recursive: true })
    const [stale, live] = [join(temps, 'copied.1234.abcd.tmp'), join(temps, 'copying.5678.ef01.tmp')]
    await writeFile(stale, 'half a frame')
    await writeFile(live, 'a frame being copied')
    const hourAgo = new Date(Date.now() - 2 * 3_600_000)
    await utimes(stale, hourAgo, hourAgo)
    // a look reports the old one (and changes nothing): as the primary's own leftovers, not only after a repair
    const look = await storage.verify()
    expect(look.problems).toEqual([
      { reason: 'stray-temp', key: '.tmp/copied.1234.abcd.tmp', path: stale, copy: 'copy' }
    ])
    expect(look).toMatchObject({ clean: false, counts: { 'stray-temp': 1 }, removed: 0 })
    expect(await namesIn(temps)).toEqual(['copied.1234.abcd.tmp', 'copying.5678.ef01.tmp'])
    const repaired = await storage.verify({ repair: true })
    expect(repaired.problems).toMatchObject([{ reason: 'stray-temp', action: 'removed', path: stale, copy: 'copy' }])
    expect(await namesIn(temps), "a temp younger than an hour may be a live copier's").toEqual([
      'copying.5678.ef01.tmp'
    ])
    // a killed prune's set-aside object on the replica: a look reports it too, and leaves it (tempMinAgeMs 0: its
    // ctime cannot be set back; the young temp is then taken too)
    const setAside = join(replica.root, '.pruning', `${'ab'.repeat(32)}.1764583200000`)
    await mkdir(join(replica.root, '.pruning'), { recursive: true })
    await writeFile(setAside, 'a frame a prune set aside')
    const older = await storage.verify({ tempMinAgeMs: 0 })
    expect(older.problems.map(p => [p.reason, p.copy, p.action])).toEqual([
      ['stray-temp', 'copy', undefined],
      ['set-aside', 'copy', undefined]
    ])
    expect(await namesIn(join(replica.root, '.pruning'))).toEqual([`${'ab'.repeat(32)}.1764583200000`])
    await storage.close()
  })

  it("a folder under a frame's name on the primary: a repair leaves it and its contents, heals nothing there", async () => {
    const { storage, primary } = await pair()
    const { path } = await storage.store(testJpeg('a folder in its place', 10_000))
    await storage.drain()
    await unlink(path)
    await mkdir(path)
    await writeFile(join(path, 'keep.txt'), 'an operator put this here')
    const repaired = await storage.verify({ repair: true })
    expect(repaired.problems.map(p => [p.reason, p.action])).toEqual([['not-a-file', 'left']])
    expect(repaired).toMatchObject({ clean: false, copies: { belowWanted: 1, lost: 0 } })
    expect(await readFile(join(path, 'keep.txt'), 'utf8')).toBe('an operator put this here')
    expect(await namesIn(join(primary.root, '.quarantine'))).toEqual([])
    await storage.close()
  })

  it(
    'without a good copy, a repair quarantines the frame and is ' + 'not clean: the frame is lost from the store',
    async () => {
      const { storage, primary, replica } = await pair()
      const { hash, path } = await storage.store(testJpeg('lost', 10_000))
      await storage.drain()
      await replica.delete(hash)
      await truncate(path, 100)
      const repaired = await storage.verify({ repair: true })
      expect(repaired).toMatchObject({ clean: false, quarantined: 1 })
      expect(await primary.exists(hash)).toBe(false)
      await storage.close()
    }
  )

  it(
    'the storm guard: a primary root replaced by an empty folder ' + 'makes verify --repair refuse, unless forced',
    async () => {
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
    }
  )

  it('a replica copy missing or damaged is named with the copy; the full tier (a subset) reads it back', async () => {
    const { storage, replica } = await pair()
    const [a, b, c] = [
      await storage.store(testJpeg('verify a', 20_000)),
      await storage.store(testJpeg('verify b', 20_000)),
      await storage.store(testJpeg('verify c', 20_000))
    ]
    await storage.drain()
    await replica.delete(a.hash)
    await flip(replica.pathOf(b.hash)) // same size: only a read back finds it
    const cheap = await storage.verify()
    expect(cheap.problems).toEqual([
      { path: replica.pathOf(a.hash), key: replica.keyOf(a.hash), reason: 'missing', copy: 'copy' }
    ])
    expect(cheap.copies).toEqual({ belowWanted: 1, lost: 0 })
    const full = await storage.verify({ subset: { index: 0, count: 1 } })
    expect(full.problems.map(p => [p.key, p.reason, p.copy]).sort()).toEqual(
      [
        [replica.keyOf(a.hash), 'missing', 'copy'],
        [replica.keyOf(b.hash), 'corrupt', 'copy']
      ].sort()
    )
    expect(full.copies).toEqual({ belowWanted: 2, lost: 0 })
    expect(partsOf(storage).ledger.lookup('copy', c.sha256)?.how).toBe('rehash') // read back and hashed
    const repaired = await storage.verify({ repair: true, subset: { index: 0, count: 1 } })
    expect(repaired).toMatchObject({ clean: true, restored: 2 })
    for (const { hash } of [a, b]) expect((await replica.fetch(hash)).length).toBe(20_000)
    await storage.close()
  })

  it('both copies damaged, the primary cut short: the full tier reads the replica copy back too, and the frame is lost', async () => {
    const { storage, primary, replica } = await pair()
    const { hash } = await storage.store(testJpeg('verify both damaged', 20_000))
    await storage.drain()
    await truncate(primary.pathOf(hash), 4096) // a write cut short: another size than the replica's copy
    await flip(replica.pathOf(hash)) // and that copy damaged in place
    const full = await storage.verify({ subset: { index: 0, count: 1 } })
    expect(full.copies).toEqual({ belowWanted: 1, lost: 1 })
    expect(full.clean).toBe(false)
    expect(partsOf(storage).ledger.lookup('copy', hash)?.how).toBe('damaged')
    // the cheap tier reads nothing back: the ledger's record of the read-back keeps the frame lost
    expect((await storage.verify()).copies.lost).toBe(1)
    await storage.close()
  })

  it('both copies damaged in place (the same size), no subset: the replica copy of a damaged primary is read back, and the frame is lost, repair or not', async () => {
    const { storage, primary, replica } = await pair()
    const { hash, sha256 } = await storage.store(testJpeg('verify both flipped', 20_000))
    await storage.drain()
    await flip(primary.pathOf(hash))
    await flip(replica.pathOf(hash))
    for (const repair of [false, true]) {
      const report = await storage.verify({ repair })
      expect(report.copies).toEqual({ belowWanted: 1, lost: 1 })
      expect(report.clean).toBe(false)
      expect(partsOf(storage).ledger.lookup('copy', sha256)?.how).toBe('damaged')
      expect(storage.status()).toMatchObject({ lost: 1 })
    }
    await storage.close()
  })

  it(
    'a whole pass and a subset (every frame counted, a part read back) keep their counts for status (verify.json); ' +
      'a part of the store (after) does not',
    async () => {
      const { storage, replica, state } = await pair()
      const { hash } = await storage.store(testJpeg('counted', 10_000))
      await storage.drain()
      await replica.delete(hash)
      await storage.verify({ after: '0'.repeat(64) })
      expect(await namesIn(state)).not.toContain('verify.json')
      expect(storage.status().lastVerifyAt).toBeUndefined()
      await storage.verify({ subset: { index: 1, count: 2 } })
      expect(storage.status()).toMatchObject({ belowWantedCopies: 1, lost: 0, countedBy: 'verify' })
      await storage.verify()
      const record = JSON.parse(await readFile(join(state, 'verify.json'), 'utf8'))
      expect(record).toEqual({ at: expect.any(String), began: expect.any(String), belowWantedCopies: 1, lost: 0 })
      expect(Date.parse(record.began)).toBeLessThanOrEqual(Date.parse(record.at)) // status counts later losses from it
      expect(storage.status()).toMatchObject({ belowWantedCopies: 1, lost: 0, countedBy: 'verify' })
      expect((await namesIn(state)).filter(name => name.startsWith('verify-'))).toEqual([]) // the spill is gone
      await storage.close()
    }
  )
})
