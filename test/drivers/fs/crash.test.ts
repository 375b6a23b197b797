import { createHash } from 'node:crypto'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { strayTemps, tempDir } from '../../infra/helpers/tmp.js'

const ITERATIONS = 24
const SIZE = 8 * 1024 * 1024

describe('FilesystemDriver survives SIGKILL at random moments', () => {
  it(`${ITERATIONS} kills during large streaming stores leave no partial object and no false duplicate`, async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const images = ['crash a', 'crash b', 'crash c'].map(seed => {
      const bytes = testJpeg(seed, SIZE)
      return { seed, bytes, sha256: createHash('sha256').update(bytes).digest('hex') }
    })
    // plant what the old Python writer leaves after a crash: a 0-byte file under the object's name
    const planted = storage.pathOf(images[2]!.sha256)
    await mkdir(dirname(planted), { recursive: true })
    await writeFile(planted, '')
    const isIntact = async (sha256: string): Promise<boolean> =>
      await storage.fetch(sha256).then(
        () => true,
        () => false
      )

    // how long one store takes here, from the child's "ready" to its exit: kills land inside that
    const timed = startChild('stream', { root: await tempDir(), seed: 'calibrate', size: SIZE, delayMs: 2 })
    await new Promise<void>(resolve => timed.child.stdout!.once('data', () => resolve()))
    const started = Date.now()
    expect(await timed.done).toBe(0)
    const duration = Date.now() - started

    const outcomes = { killed: 0, finishedFirst: 0, killedAfterCommit: 0 }
    for (let i = 0; outcomes.killed < ITERATIONS && i < ITERATIONS * 2; i++) {
      const image = images[i % images.length]!
      const before = await isIntact(image.sha256)
      const run = startChild('stream', { root, seed: image.seed, size: SIZE, delayMs: 2 })
      await new Promise<void>(resolve => run.child.stdout!.once('data', () => resolve()))
      await new Promise(resolve => setTimeout(resolve, Math.random() * duration))
      run.child.kill('SIGKILL')
      if ((await run.done) === 0) outcomes.finishedFirst++
      else outcomes.killed++

      // every object visible under its name is whole; only temps may be left over
      const report = await storage.verify({ tempMinAgeMs: Number.POSITIVE_INFINITY })
      expect(report.problems.filter(p => p.reason !== 'stray-temp' && p.path !== planted)).toEqual([])
      for (const other of images) {
        // whole, absent, or (the planted 0-byte file, until a store replaces it) present and damaged
        const fetched = await storage.fetch(other.sha256).catch((err: { code: string }) => err.code)
        if (Buffer.isBuffer(fetched)) expect(Buffer.compare(fetched, other.bytes)).toBe(0)
        else
          expect({ fetched, exists: await storage.exists(other.sha256) }).toEqual(
            other === images[2] && (await stat(planted).catch(() => undefined))?.size === 0
              ? { fetched: 'ERR_INTEGRITY', exists: true }
              : { fetched: 'ERR_NOT_FOUND', exists: false }
          )
      }
      if (!before && (await isIntact(image.sha256)) && run.child.signalCode === 'SIGKILL') outcomes.killedAfterCommit++
    }
    console.log(`crash: store takes ~${duration} ms; ${JSON.stringify(outcomes)}`)
    expect(outcomes.killed).toBe(ITERATIONS)

    // stray temps are found and cleaned; nothing is left behind
    const cleaned = await storage.verify({ repair: true, tempMinAgeMs: 0 })
    console.log(
      `crash: stray temps found and removed: ${cleaned.problems.filter(p => p.reason === 'stray-temp').length}`
    )
    expect(await strayTemps(storage)).toEqual([])

    // no false duplicate: a store is a duplicate exactly when an intact copy was already there
    for (const image of images) {
      const wasIntact = await isIntact(image.sha256)
      expect((await storage.store(image.bytes)).isDuplicate).toBe(wasIntact)
      expect(Buffer.compare(await storage.fetch(image.sha256), image.bytes)).toBe(0)
    }
    expect((await storage.verify()).problems).toEqual([])
  }, 300_000)

  it('kills during stores without fsync leave whole objects and temps only, in lent folders too: a repair removes them', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, fsync: false })
    const acknowledged: string[] = []
    let lentTemps = 0 // temps a kill left in a shard folder (an early temp in a recent frame's folder)
    let kills = 0
    // (a store's temp lives for a fraction of the child's time, which mostly makes test frames: ~1 kill in 10)
    while (kills < 8 || (lentTemps === 0 && kills < 80)) {
      const run = startChild('store-new', { root, fsync: false, seed: `lent ${kills}`, size: 600_000, count: 100_000 })
      await new Promise<void>(resolve => run.child.stdout!.once('data', () => resolve())) // stores under way
      await new Promise(resolve => setTimeout(resolve, Math.random() * 200))
      run.child.kill('SIGKILL')
      await run.done
      kills++
      acknowledged.push(...run.lines().map(line => line.sha256 as string))
      // every name in the tree is a whole object; anything else is a temp
      expect((await storage.verify({ tempMinAgeMs: Number.POSITIVE_INFINITY })).problems).toEqual([])
      lentTemps = (await strayTemps(storage)).filter(key => !key.startsWith('.tmp/')).length
    }
    console.log(
      `crash without fsync: ${kills} kills, ${acknowledged.length} stores, ${lentTemps} temps in shard folders`
    )
    expect(lentTemps).toBeGreaterThan(0)
    for (const sha256 of acknowledged) expect((await storage.stat(sha256)).sha256).toBe(sha256)
    expect((await storage.verify()).problems.filter(p => p.reason !== 'stray-temp')).toEqual([])
    await storage.verify({ repair: true, tempMinAgeMs: 0 })
    expect(await strayTemps(storage)).toEqual([])
    expect((await storage.verify({ tempMinAgeMs: 0 })).clean).toBe(true)
  }, 300_000)
})
