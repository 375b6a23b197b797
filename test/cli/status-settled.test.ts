// `status` after the command it prescribes: the copies a reconcile (or a repair) made since its scan are
// struck off the count of frames below their wanted copies, so a monitor stops paging once the fix is made
// (the real CLI, the real filesystem, a filesystem replica).
import { readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../src/features/replication/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

async function replicated(count: number): Promise<{ env: Record<string, string>; copy: string; hashes: string[] }> {
  const root = await tempDir('sai-primary')
  const copy = await tempDir('sai-copy')
  const env = { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: copy }
  const storage = new FilesystemDriver({ root })
  const hashes = []
  for (let i = 0; i < count; i++) hashes.push((await storage.store(testJpeg(`settled ${root} ${i}`, 5000))).hash)
  expect(cli(['replicate'], { env }).code).toBe(0)
  return { env, copy, hashes }
}

describe('status after the fix it prescribes', () => {
  it('a replica copy deleted: verify exits 1, status 12; replicate copies it, then status exits 0', async () => {
    const { env, copy, hashes } = await replicated(3)
    const replica = new FilesystemDriver({ root: copy })
    await rm(replica.pathOf(hashes[1]!))
    expect(cli(['verify'], { env }).code).toBe(1)
    expect(cli(['status'], { env }).code).toBe(12)
    const replicate = cli(['replicate'], { env })
    expect(replicate.code).toBe(0)
    expect(replicate.stdout).toContain('1 copy made, 0 pending')
    expect(await replica.exists(hashes[1]!)).toBe(true)
    const status = cli(['status', '--json'], { env })
    expect(answer(status)).toMatchObject({ countedBy: 'reconcile', belowWantedCopies: 0, copiedSince: 1, alerts: [] })
    expect(status.code).toBe(0)
    const text = cli(['status'], { env })
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('0 frames below the wanted copies (1 more at the scan, copied since), 0 lost')
    expect(text.stdout).not.toContain('ALERT')
  })

  it('a frame the copier finds lost after the scan (a watcher): status exits 13 at once, and it is not "copied since"', async () => {
    const { env, copy } = await replicated(1)
    const primary = new FilesystemDriver({ root: env.SAI_IMAGE_STORAGE_PATH! })
    const replica = new FilesystemDriver({ root: copy })
    // the watcher's process: a new frame, queued; a reconcile finds it below; its only copy damaged before the drain
    const storage = createReplicatedStorage({
      primary,
      replicas: [{ name: 'fs', storage: replica }],
      background: false
    })
    const jpeg = testJpeg(`lost after the scan ${copy}`, 12_000)
    const { path, sha256 } = await storage.store(jpeg)
    expect(await storage.reconcile()).toMatchObject({ belowWantedCopies: 1, lost: 0 })
    await writeFile(path, jpeg.subarray(0, 4096)) // what a power cut leaves of a write never fsynced
    const beforeTheCut = new Date(Date.now() - 120_000) // its last change, before the cut and the reboot
    await utimes(path, beforeTheCut, beforeTheCut)
    expect(await storage.drain()).toMatchObject({ copied: 0, gone: 1 })
    await storage.close()
    const status = cli(['status', '--json'], { env })
    expect(status.code).toBe(13)
    expect(answer(status)).toMatchObject({ belowWantedCopies: 1, lost: 0, lostSince: 1 })
    expect(answer(status).copiedSince).toBeUndefined()
    const text = cli(['status'], { env })
    expect(text.code).toBe(13)
    expect(text.stdout).toContain('1 frame found lost by the copier since')
    expect(text.stdout).toContain(
      'ALERT (exit 13): 1 frame LOST since the last scan (gone or damaged on the primary before any copy was made): '
    )
    // the next scan counts it, as the scan's: said once
    const scanned = cli(['replicate'], { env })
    expect(scanned.code).toBe(1) // its reconcile found a frame lost
    expect(scanned.stdout).toContain('1 frame LOST')
    expect(answer(cli(['status', '--json'], { env }))).toMatchObject({ lost: 1 })
    expect(answer(cli(['status', '--json'], { env })).lostSince).toBeUndefined()
    // sent again whole: copied, and the loss ends
    const again = createReplicatedStorage({ primary, replicas: [{ name: 'fs', storage: replica }], background: false })
    expect((await again.store(jpeg)).sha256).toBe(sha256)
    await again.close()
    expect(cli(['replicate'], { env }).code).toBe(0)
    expect(await replica.exists(sha256)).toBe(true)
    const whole = cli(['status', '--json'], { env })
    expect(answer(whole)).toMatchObject({ belowWantedCopies: 0, lost: 0, alerts: [] })
    expect(whole.code).toBe(0)
  })

  it('verify --subset 0/1 --repair of a corrupt replica copy: "clean now" beside 0 below; status exits 0', async () => {
    const { env, copy, hashes } = await replicated(2)
    const path = new FilesystemDriver({ root: copy }).pathOf(hashes[0]!)
    const bytes = await readFile(path)
    bytes[bytes.length >> 1]! ^= 1
    await writeFile(path, bytes)
    const json = cli(['verify', '--subset', '0/1', '--repair', '--json'], { env })
    expect(json.code).toBe(0)
    expect(answer(json)).toMatchObject({ clean: true, restored: 1, copies: { belowWanted: 0, lost: 0, madeWhole: 1 } })
    await writeFile(path, bytes) // damaged again, for the text
    const text = cli(['verify', '--subset', '0/1', '--repair'], { env })
    expect(text.stdout).toContain('clean now')
    expect(text.stdout).toContain('copies: 0 frames below the wanted copies (1 more before the repair made them whole)')
    const status = cli(['status', '--json'], { env })
    expect(answer(status)).toMatchObject({ countedBy: 'verify', belowWantedCopies: 0 })
    expect(status.code).toBe(0)
  })

  it('a whole scan older than --max-scan-age (a reconcile that keeps failing): exit 16, and 0 with a longer age', async () => {
    const { env } = await replicated(1)
    const record = `${env.SAI_IMAGE_STORAGE_PATH}/.replication/reconcile.json`
    const reconcile = JSON.parse(await readFile(record, 'utf8'))
    await writeFile(record, JSON.stringify({ ...reconcile, at: new Date(Date.now() - 3 * 86_400_000).toISOString() }))
    const stale = cli(['status', '--json'], { env })
    expect(stale.code).toBe(16)
    expect(answer(stale).alerts).toEqual([expect.objectContaining({ condition: 'staleScan', exit: 16 })])
    expect(cli(['status'], { env }).stdout).toContain('longer ago than --max-scan-age')
    expect(cli(['status', '--max-scan-age', '4d'], { env }).code).toBe(0)
  })
})
