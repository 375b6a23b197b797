// The copier (copier.ts) between real filesystem stores: a verified copy clears the outbox entry
// and tells the ledger; a frame gone from the primary is dropped (and recorded lost, unless it was
// deleted on purpose); an unreachable replica is backed
// off and its failing state recorded for other processes, cleared once a copy goes through.
import { lstatSync } from 'node:fs'
import { appendFile, mkdir, readFile, rename, symlink, unlink, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { keepingLogger, namesIn, pair, sha256Of } from './helpers.js'

describe('Copier', () => {
  it(
    'copy: the bytes stored on the replica, the ledger told ' + '(upload), the entry gone, the listeners told',
    async () => {
      const { storage, replica, state } = await pair()
      const jpeg = testJpeg('copier copy', 15_000)
      const { sha256 } = await storage.store(jpeg)
      const { copier, ledger } = partsOf(storage)
      const told: string[] = []
      copier.copied.add((name, hash) => told.push(`${name} ${hash}`))
      const before = Date.now()
      expect(await copier.copy(storage.replicas[0]!, sha256)).toBe('copied')
      expect(Buffer.compare(await replica.fetch(sha256), jpeg)).toBe(0)
      expect(ledger.lookup('copy', sha256)).toMatchObject({ how: 'upload' })
      expect(ledger.lookup('copy', sha256)!.at).toBeGreaterThanOrEqual(before)
      expect(await namesIn(join(state, 'outbox', 'copy'))).toEqual([])
      expect(told).toEqual([`copy ${sha256}`])
      await storage.close()
    }
  )

  it('a frame deleted on purpose meanwhile (its `gone` recorded first) is dropped from the outbox, not copied', async () => {
    const { logger, logged } = keepingLogger()
    const { storage, primary, replica } = await pair({ logger })
    const { hash, sha256, path } = await storage.store(testJpeg('copier gone'))
    // a delete through the store, caught between its first step and its last: the intent, then the file
    await partsOf(storage).ledger.append('primary', [{ sha256, at: Date.now(), how: 'gone' }], { durable: true })
    await unlink(path)
    expect(await storage.drain()).toMatchObject({ copied: 0, gone: 1, pending: 0, failed: [] })
    expect(await replica.exists(hash)).toBe(false)
    expect(await primary.exists(hash)).toBe(false)
    expect(logged.filter(l => l.fields.event === 'replication.lost')).toEqual([])
    expect(await storage.reconcile()).toMatchObject({ lost: 0 })
    await storage.close()
  })

  it('a frame removed behind the store before any copy was made is recorded lost, reported until deleted', async () => {
    const { logger, logged } = keepingLogger()
    const { storage } = await pair({ logger })
    const { hash, path } = await storage.store(testJpeg('copier lost')) // acknowledged: one copy, the outbox's entry
    await unlink(path)
    expect(await storage.drain()).toMatchObject({ copied: 0, gone: 1, pending: 0, failed: [] })
    expect(logged.filter(l => l.fields.event === 'replication.lost')).toEqual([
      expect.objectContaining({ level: 'error', fields: { event: 'replication.lost', sha256: hash } })
    ])
    for (let pass = 0; pass < 2; pass++) expect(await storage.reconcile()).toMatchObject({ lost: 1 })
    expect(await storage.verify()).toMatchObject({ clean: false, copies: { lost: 1 } })
    await expect(storage.fetch(hash)).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringContaining(
        'gone before any copy of it was made, and no copy holds it any more: the frame is LOST'
      )
    })
    expect(await storage.delete(hash)).toBe(true)
    expect(await storage.verify()).toMatchObject({ clean: true, copies: { lost: 0 } })
    await storage.close()
  })

  it('a frame damaged on the primary before any copy was made (a write cut short) is recorded lost, not retried for ever; stored whole again, it is copied and the loss ends', async () => {
    const { logger, logged } = keepingLogger()
    const { storage, replica } = await pair({ logger })
    const jpeg = testJpeg('copier damaged', 12_000)
    const { hash, path } = await storage.store(jpeg)
    await writeFile(path, jpeg.subarray(0, 4096)) // what a power cut leaves of a write never fsynced
    const beforeTheCut = new Date(Date.now() - 120_000) // its last change, before the cut and the reboot
    await utimes(path, beforeTheCut, beforeTheCut)
    expect(await storage.drain()).toMatchObject({ copied: 0, gone: 1, pending: 0, failed: [] })
    expect(logged.filter(l => l.fields.event === 'replication.lost')).toEqual([
      expect.objectContaining({
        level: 'error',
        message: expect.stringContaining('damaged on the primary before any copy')
      })
    ])
    // the reconcile lists the damaged copy: counted as none (lost), never queued again for a copy that must fail
    for (let pass = 0; pass < 2; pass++) {
      expect(await storage.reconcile()).toMatchObject({ primary: 1, lost: 1, belowWantedCopies: 1 })
      expect(await storage.drain()).toMatchObject({ copied: 0, pending: 0, failed: [] })
    }
    expect(await storage.verify()).toMatchObject({ clean: false, copies: { lost: 1 } })
    await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    await storage.store(jpeg) // the frame sent again: the damaged copy is replaced, and copied
    expect(await storage.drain()).toMatchObject({ copied: 1, pending: 0 })
    expect(Buffer.compare(await replica.fetch(hash), jpeg)).toBe(0)
    expect(await storage.reconcile()).toMatchObject({ lost: 0, belowWantedCopies: 0 })
    expect(await storage.verify()).toMatchObject({ clean: true, copies: { lost: 0 } })
    await storage.close()
  })

  it('a frame another writer still writes in place (cp to its name) is not LOST: its copy fails and waits, and is made once it is whole', async () => {
    const { logger, logged } = keepingLogger()
    const { storage, primary, replica } = await pair({ logger })
    const jpeg = testJpeg('copier written in place', 200_000)
    const sha256 = sha256Of(jpeg)
    const path = join(primary.root, primary.sharding.encode(sha256))
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, jpeg.subarray(0, 100_000)) // half of it written
    await partsOf(storage).outbox.add(sha256, ['copy']) // as the watcher queues it when the name appears
    const first = await storage.drain()
    expect(first).toMatchObject({ copied: 0, gone: 0, pending: 1 })
    expect(first.failed).toEqual([
      expect.objectContaining({ sha256, code: 'ERR_INTEGRITY', message: expect.stringContaining('once it is whole') })
    ])
    expect(logged.filter(l => l.fields.event === 'replication.lost')).toEqual([])
    expect(partsOf(storage).ledger.lookup('primary', sha256)).toBeUndefined()
    await appendFile(path, jpeg.subarray(100_000))
    expect(await storage.drain()).toMatchObject({ copied: 1, gone: 0, pending: 0, failed: [] })
    expect((await replica.fetch(sha256)).equals(jpeg)).toBe(true)
    expect(await storage.reconcile()).toMatchObject({ lost: 0, belowWantedCopies: 0 })
    await storage.close()
  })

  it(
    'an unreachable replica: the round stops, the entries stay, ' + 'the failing state is recorded and then cleared',
    async () => {
      const primary = new FilesystemDriver({ root: await tempDir('sai-copier') })
      const parent = await tempDir('sai-copier-replica')
      const replica = new FilesystemDriver({ root: join(parent, 'mounted'), createRoot: false })
      const { logger, logged } = keepingLogger()
      const open = () =>
        createReplicatedStorage({ primary, replicas: [{ name: 'copy', storage: replica }], background: false, logger })
      let storage = open()
      const state = storage.stateDir
      const stored = [await storage.store(testJpeg('down 1')), await storage.store(testJpeg('down 2'))]
      const failed = await storage.drain()
      expect(failed).toMatchObject({ copied: 0, pending: 2, failed: [] })
      const record = JSON.parse(await readFile(join(state, 'failing', 'copy.json'), 'utf8'))
      expect(record).toEqual({ since: expect.any(String), code: 'ERR_STORAGE_UNAVAILABLE', retryInMs: 1000 })
      expect(storage.status().replicas[0]!.failing).toEqual({
        since: new Date(record.since),
        code: 'ERR_STORAGE_UNAVAILABLE'
      })
      expect(logged.filter(l => l.fields.event === 'replication.replica-unavailable')).toHaveLength(1)
      await storage.drain() // still down: backed off longer, told once
      expect(JSON.parse(await readFile(join(state, 'failing', 'copy.json'), 'utf8'))).toMatchObject({ retryInMs: 2000 })
      expect(logged.filter(l => l.fields.event === 'replication.replica-unavailable')).toHaveLength(1)
      // the service restarted during the outage: still failing since the first failure (an alert's clock not reset)
      await storage.close()
      await new Promise(resolve => setTimeout(resolve, 20))
      storage = open()
      await storage.drain()
      expect(JSON.parse(await readFile(join(state, 'failing', 'copy.json'), 'utf8'))).toMatchObject({
        since: record.since,
        retryInMs: 1000 // its own backoff starts again
      })
      expect(storage.status().replicas[0]!.failing?.since).toEqual(new Date(record.since))
      // mounted again
      const other = await tempDir('sai-copier-mount')
      await rename(other, join(parent, 'mounted'))
      expect(await storage.drain()).toMatchObject({ copied: 2, pending: 0 })
      expect(await namesIn(join(state, 'failing'))).toEqual([])
      expect(storage.status().replicas[0]!.failing).toBeUndefined()
      expect(logged.filter(l => l.fields.event === 'replication.replica-recovered')).toHaveLength(1)
      for (const { hash } of stored) expect(await replica.exists(hash)).toBe(true)
      await storage.close()
    }
  )

  it("a folder or a link under one frame's name, on the primary or the replica, fails that frame alone", async () => {
    // each is ERR_STORAGE_UNAVAILABLE naming that entry (fs driver): the other frames are copied, no replica backed off
    const { logger, logged } = keepingLogger()
    const { storage, replica } = await pair({ logger })
    const stored = []
    for (let i = 0; i < 5; i++) stored.push(await storage.store(testJpeg(`copier odd entry ${i}`)))
    const [linked, folder, onReplica] = [stored[0]!, stored[1]!, stored[2]!]
    const copy = join(await tempDir('sai-copier-link'), 'copy.jpg')
    await writeFile(copy, await readFile(linked.path))
    await unlink(linked.path)
    await symlink(copy, linked.path)
    await unlink(folder.path)
    await mkdir(folder.path)
    await mkdir(replica.pathOf(onReplica.hash), { recursive: true })
    const report = await storage.drain()
    expect(report).toMatchObject({ copied: 2, gone: 0, pending: 3 })
    expect(report.unavailable).toBeUndefined()
    const link = 'a symbolic link stands where a file should be (ELOOP). Move it aside'
    const dir = 'a folder stands where a file should be (EISDIR). Move it aside'
    const failure = (sha256: string, path: string, why: string): object => ({
      sha256,
      replica: 'copy',
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining(`at ${path}: ${why}`)
    })
    expect(Object.fromEntries(report.failed.map(f => [f.sha256, f]))).toEqual({
      [linked.sha256]: failure(linked.sha256, linked.path, link),
      [folder.sha256]: failure(folder.sha256, folder.path, dir),
      [onReplica.sha256]: failure(onReplica.sha256, replica.pathOf(onReplica.hash), dir)
    })
    expect(logged.filter(l => l.fields.event === 'replication.copy-failed')).toHaveLength(3)
    expect(storage.status().replicas[0]!.failing).toBeUndefined()
    for (const { hash } of stored.slice(3)) expect(await replica.exists(hash)).toBe(true)
    expect(lstatSync(linked.path).isSymbolicLink()).toBe(true) // left as found
    await storage.close()
  })

  it('in the background, a store kicks a drain, and idle waits for it', async () => {
    const { storage, replica } = await pair({ background: true })
    const { hash } = await storage.store(testJpeg('kicked'))
    await storage.idle()
    expect(await replica.exists(hash)).toBe(true)
    expect(storage.status().replicas[0]!.pending).toBe(0)
    await storage.close()
  })
})
