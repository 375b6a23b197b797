// The state folder's layout (layout.ts): every path it names is under the folder, and after a store
// has stored, copied, failed to copy, healed, evicted, reconciled, verified and watched, every file
// in its state folder is one the layout names (no module writes a path of its own).
import { readdir, rm, unlink, utimes } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage, PrimaryWatcher } from '../../../src/features/replication/index.js'
import { StateLayout } from '../../../src/features/replication/layout.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { DAY } from './helpers.js'

const SHA = 'ab'.repeat(32)

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await filesUnder(path)))
    else out.push(path)
  }
  return out
}

describe('StateLayout', () => {
  it('names every path of the state folder', () => {
    const layout = new StateLayout('/state')
    expect({
      outbox: layout.outbox,
      outboxFolder: layout.outboxFolder('s3'),
      outboxEntry: layout.outboxEntry('s3', SHA),
      ledgerFolder: layout.ledgerFolder('primary'),
      ledgerShard: layout.ledgerShard('s3', 'ab'),
      drainLock: layout.drainLock,
      failingFolder: layout.failingFolder,
      failing: layout.failing('s3'),
      healsLog: layout.healsLog,
      reconcileReport: layout.reconcileReport,
      reconcileBelow: layout.reconcileBelow,
      verifyRecord: layout.verifyRecord,
      watchHealth: layout.watchHealth,
      hostId: layout.hostId,
      spill: layout.spill('12-34', 2)
    }).toEqual({
      outbox: '/state/outbox',
      outboxFolder: '/state/outbox/s3',
      outboxEntry: `/state/outbox/s3/${SHA}`,
      ledgerFolder: '/state/ledger/primary',
      ledgerShard: '/state/ledger/s3/ab.log',
      drainLock: '/state/drain.lock',
      failingFolder: '/state/failing',
      failing: '/state/failing/s3.json',
      healsLog: '/state/heals.log',
      reconcileReport: '/state/reconcile.json',
      reconcileBelow: '/state/reconcile-below',
      verifyRecord: '/state/verify.json',
      watchHealth: '/state/watch.json',
      hostId: '/state/host-id',
      spill: '/state/verify-12-34-2.tmp'
    })
  })

  it('after every kind of work, the state folder holds only what the layout names', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-layout') })
    const replica = new FilesystemDriver({ root: await tempDir('sai-layout-replica') })
    const down = new FilesystemDriver({ root: join(replica.root, 'unmounted'), createRoot: false })
    const storage = createReplicatedStorage({
      primary,
      replicas: [
        { name: 'copy', storage: replica },
        { name: 'down', storage: down }
      ],
      background: false
    })
    const stored = []
    for (let i = 0; i < 3; i++) stored.push(await storage.store(testJpeg(`layout ${i}`)))
    await storage.drain() // copied to one replica; the other fails: its failing state is recorded
    // the unreachable replica taken out of the configuration: its outbox and failing state stay
    const again = createReplicatedStorage({
      primary,
      replicas: [{ name: 'copy', storage: replica }],
      background: false,
      stateDir: storage.stateDir
    })
    await unlink(stored[0]!.path)
    await again.fetch(stored[0]!.hash) // healed
    const old = new Date(Date.now() - 40 * DAY)
    await utimes(stored[1]!.path, old, old)
    expect(await again.evict({ olderThan: 30 * DAY })).toMatchObject({ evicted: 1 })
    await again.reconcile()
    await again.verify()
    const watcher = new PrimaryWatcher(again)
    await watcher.pass()
    await watcher.stop()
    const layout = new StateLayout(again.stateDir)
    // each path the layout can name, for the copies and the hashes there are
    const copies = ['primary', 'copy', 'down']
    const hashes = stored.map(s => s.sha256)
    const named = (path: string): boolean => {
      if (copies.some(copy => hashes.some(sha256 => path === layout.outboxEntry(copy, sha256)))) return true
      if (copies.some(copy => hashes.some(sha256 => path === layout.ledgerShard(copy, sha256.slice(0, 2))))) return true
      if (copies.some(copy => path === layout.failing(copy))) return true
      return [
        layout.healsLog,
        layout.reconcileReport,
        layout.reconcileBelow,
        layout.verifyRecord,
        layout.watchHealth,
        layout.hostId
      ].includes(path)
    }
    const files = await filesUnder(layout.dir)
    expect(files.filter(f => !named(f)).map(f => relative(layout.dir, f))).toEqual([])
    for (const part of [
      'outbox/down/',
      'ledger/',
      'failing/down.json',
      'heals.log',
      'reconcile.json',
      'reconcile-below',
      'verify.json',
      'watch.json',
      'host-id'
    ])
      expect(files.some(f => relative(layout.dir, f).startsWith(part))).toBe(true)
    await again.close()
    await rm(layout.dir, { recursive: true })
  })
})
