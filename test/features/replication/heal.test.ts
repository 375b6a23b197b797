// Healing (heal.ts) on a real filesystem primary: the damaged copy quarantined (kept), the good
// bytes written back through the primary's store, each heal counted in heals.log; a heal that
// cannot write is logged, not thrown.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { Healer } from '../../../src/features/replication/heal.js'
import { StateLayout } from '../../../src/features/replication/layout.js'
import { Ledger } from '../../../src/features/replication/ledger.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { flip, keepingLogger } from './helpers.js'

describe('Healer', () => {
  it('writes the good bytes back, the damaged copy quarantined, and counts the heal', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-heal') })
    const state = join(primary.root, '.replication')
    const { logger, logged } = keepingLogger()
    const layout = new StateLayout(state)
    const ledger = new Ledger(layout)
    const healer = new Healer(primary, layout, ledger, logger)
    expect(healer.counts()).toEqual({ healed: 0, lastAt: undefined })
    const jpeg = testJpeg('heal me', 20_000)
    const { sha256, path } = await primary.store(jpeg)
    await flip(path)
    const before = Date.now()
    expect(await healer.writeBack(sha256, jpeg, 's3', 'damaged')).toBe(true)
    expect(Buffer.compare(await primary.fetch(sha256), jpeg)).toBe(0)
    const quarantined = []
    for await (const entry of primary.quarantine.list()) quarantined.push([entry.sha256, entry.reason])
    expect(quarantined).toEqual([[sha256, 'healed']])
    const lines = (await readFile(join(state, 'heals.log'), 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`^\\d+ ${sha256} s3 damaged$`))
    const counts = healer.counts()
    expect(counts.healed).toBe(1)
    expect(counts.lastAt!.getTime()).toBeGreaterThanOrEqual(before)
    expect(logged).toMatchObject([{ level: 'info', fields: { event: 'replication.healed', sha256, from: 's3' } }])
    // the copy it came from was read and hashed: verified, so nobody copies the frame back to it
    expect(ledger.lookup('s3', sha256)).toMatchObject({ how: 'rehash' })
  })

  it('a write that fails is logged and answered false; nothing is counted', async () => {
    const primary = new FilesystemDriver({ root: join(await tempDir('sai-heal-gone'), 'unmounted'), createRoot: false })
    const { logger, logged } = keepingLogger()
    const layout = new StateLayout(await tempDir('sai-heal-state'))
    const healer = new Healer(primary, layout, new Ledger(layout), logger)
    expect(await healer.writeBack('a'.repeat(64), testJpeg('nowhere'), 'copy', 'missing')).toBe(false)
    expect(healer.counts().healed).toBe(0)
    expect(logged).toMatchObject([{ level: 'error', fields: { event: 'replication.heal-failed', from: 'copy' } }])
  })
})
