// The frames a reconcile found below their wanted copies, struck off once the copies it queued are
// verified (below.ts): by a drain in this store, in another store over the same state folder (the
// watcher's process), and not while the replica is down.
import { spawn } from 'node:child_process'
import { readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { flip, pair } from './helpers.js'

describe('below the wanted copies, after the drain', () => {
  it("a reconcile's count drops as its queued copies are made, not before", async () => {
    const { storage, primary, replica } = await pair()
    for (let i = 0; i < 3; i++) await primary.store(testJpeg(`below ${primary.root} ${i}`, 3000))
    const report = await storage.reconcile()
    expect(report.belowWantedCopies).toBe(3)
    expect(storage.status()).toMatchObject({ belowWantedCopies: 3, countedBy: 'reconcile' })
    expect(storage.status().copiedSince).toBeUndefined()
    await rename(replica.root, `${replica.root}.away`)
    const failed = await storage.drain()
    expect(failed.copied).toBe(0)
    expect(storage.status()).toMatchObject({ belowWantedCopies: 3 })
    await rename(`${replica.root}.away`, replica.root)
    // another store over the same state folder (the watcher's process) drains: it strikes them off
    const other = createReplicatedStorage({
      primary,
      replicas: [{ name: 'copy', storage: replica }],
      background: false
    })
    expect((await other.drain()).copied).toBe(3)
    expect(storage.status()).toMatchObject({ belowWantedCopies: 0, copiedSince: 3 })
    // a reconcile now finds nothing below: nothing copied since it
    await storage.reconcile()
    expect(storage.status()).toMatchObject({ belowWantedCopies: 0 })
    expect(storage.status().copiedSince).toBeUndefined()
    await other.close()
    await storage.close()
  })

  it('a replica copy a read-back found damaged stays below until its new copy is made, not struck off at once', async () => {
    const { storage, primary, replica } = await pair()
    const { sha256, hash } = await storage.store(testJpeg(`damaged copy ${primary.root}`, 3000))
    await storage.drain()
    await flip(replica.pathOf(hash)) // the same size: only a read-back sees it
    await storage.verify({ subset: { index: 0, count: 1 } }) // records the copy damaged
    expect(await storage.reconcile()).toMatchObject({ belowWantedCopies: 1, lost: 0 })
    expect(storage.status()).toMatchObject({ belowWantedCopies: 1 })
    await rename(replica.root, `${replica.root}.away`) // the replica down: the copy cannot be made yet
    expect((await storage.drain()).copied).toBe(0)
    expect(storage.status()).toMatchObject({ belowWantedCopies: 1 })
    expect(storage.status().copiedSince).toBeUndefined()
    await rename(`${replica.root}.away`, replica.root)
    expect((await storage.drain()).copied).toBe(1) // the damaged copy replaced
    expect(storage.status()).toMatchObject({ belowWantedCopies: 0, copiedSince: 1 })
    expect(await replica.fetch(sha256)).toEqual(await primary.fetch(sha256))
    await storage.close()
  })

  it('an evicted frame whose replica copy is gone stays below (no copy can be queued), and lost', async () => {
    const { storage, primary, replica } = await pair()
    const { sha256 } = await storage.store(testJpeg(`evicted ${primary.root}`, 3000))
    await storage.drain()
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(await storage.evict({ olderThan: 0 })).toMatchObject({ evicted: 1 })
    await replica.delete(sha256)
    await storage.reconcile()
    await storage.store(testJpeg(`another ${primary.root}`, 3000))
    await storage.drain() // copies the new frame: the lost one is not struck off
    expect(storage.status()).toMatchObject({ belowWantedCopies: 1, lost: 1 })
    await storage.close()
  })

  it('a frame whose queued copy could not be made (gone from the primary, another replica holds it) stays below', async () => {
    const [primary, a, b] = await Promise.all(
      ['sai-below-primary', 'sai-below-a', 'sai-below-b'].map(
        async name => new FilesystemDriver({ root: await tempDir(name) })
      )
    )
    const storage = createReplicatedStorage({
      primary: primary!,
      replicas: [
        { name: 'a', storage: a! },
        { name: 'b', storage: b! }
      ],
      background: false
    })
    const [h, c] = [
      await storage.store(testJpeg('below gone h', 3000)),
      await storage.store(testJpeg('below gone c', 3000))
    ]
    await storage.drain()
    for (const frame of [h, c]) await b!.delete(frame.sha256) // replica b loses both
    expect(await storage.reconcile()).toMatchObject({ belowWantedCopies: 2 })
    await unlink(h.path) // and the primary h, behind the store's back: only a holds it now
    expect(await storage.drain()).toMatchObject({ copied: 1, gone: 1 })
    expect(storage.status()).toMatchObject({ belowWantedCopies: 1, copiedSince: 1 })
    await storage.close()
  })

  it("a reconcile writes its list and record only once another process's settle of them is over", async () => {
    const { storage, primary, state } = await pair()
    await primary.store(testJpeg('below while a settle runs', 3000)) // not queued: the pass finds it below
    await storage.reconcile()
    // another process (the watcher's drain) settles the list and record: it holds their lock meanwhile
    const settler = spawn('sleep', ['60'])
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()
    await writeFile(join(state, 'below.lock'), `${settler.pid} ${boot}`)
    const before = await readFile(join(state, 'reconcile.json'), 'utf8')
    let ended = false
    const pass = storage.reconcile().finally(() => {
      ended = true
    })
    await delay(400)
    expect(ended).toBe(false)
    // the settle's record stays until it is over: the pass's is written after it, never under it
    expect(await readFile(join(state, 'reconcile.json'), 'utf8')).toBe(before)
    settler.kill('SIGKILL') // gone without releasing: its lock is abandoned
    const report = await pass
    expect(JSON.parse(await readFile(join(state, 'reconcile.json'), 'utf8'))).toMatchObject({
      at: report.at.toISOString(),
      belowWantedCopies: 1
    })
    await storage.close()
  })

  it('a lock this process left (a release whose unlink failed) holds none of its own writers up', async () => {
    const { storage, primary, state } = await pair()
    await primary.store(testJpeg('below, a lock of our own left', 3000))
    await storage.reconcile()
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim()
    await writeFile(join(state, 'below.lock'), `${process.pid} ${boot}`)
    const started = Date.now()
    const report = await storage.reconcile() // its record, then a settle: both under the lock
    expect(Date.now() - started).toBeLessThan(3000) // not the minute a live holder in another process is waited
    expect(JSON.parse(await readFile(join(state, 'reconcile.json'), 'utf8'))).toMatchObject({
      at: report.at.toISOString()
    })
    await storage.close()
  })
})
