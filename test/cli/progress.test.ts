// The progress bar on a terminal: with the total counted beside the work, verify, import and migrate
// show the share done and an ETA (before, a count and a rate only, though docs/cli.md promised an ETA).
import { createHash } from 'node:crypto'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { formatEta } from '../../src/cli/progress.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { onTerminal } from './run.js'

describe('progress', () => {
  it("verify on a terminal shows done/total, the share and an ETA; with --subset, the subset's total", async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const hashes = [(await storage.store(testJpeg('progress', 2048))).sha256] // the store's layout, as a store makes it
    // enough objects for verify to take a few draws of the bar (200 ms apart): written straight into
    // the layout, without a store's fsyncs, to be quick
    for (let i = 1; i < 4000; i++) {
      const bytes = testJpeg(`progress ${i}`, 40_000)
      const hash = createHash('sha256').update(bytes).digest('hex')
      mkdirSync(dirname(storage.pathOf(hash)), { recursive: true })
      writeFileSync(storage.pathOf(hash), bytes)
      hashes.push(hash)
    }
    await storage.close()
    const run = onTerminal(['verify'], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(run.code).toBe(0)
    expect(run.output).toMatch(/verify \[#+\.*\] \d+\/4000 \d+% \d+\/s ETA (\d+s|\d+m \d\ds)/)
    expect(run.output).toMatch(/verify \[#{30}\] 4000\/4000 100% \d+\/s ETA 0s/)
    // a subset's total is the subset's (shown if its count ends before the check does)
    const inSubset = hashes.filter(hash => parseInt(hash.slice(0, 4), 16) % 2 === 1).length
    const subset = onTerminal(['verify', '--subset', '1/2'], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(subset.output).toContain(`verify: ${inSubset} objects checked`)
    for (const [, total] of subset.output.matchAll(/ \d+\/(\d+) \d+%/g)) expect(Number(total)).toBe(inSubset)
  }, 120_000)

  it('import and migrate on a terminal show done/total, the share and an ETA (they showed a count and a rate only)', async () => {
    const dir = await tempDir('sai-tree')
    for (let i = 0; i < 300; i++) {
      mkdirSync(join(dir, String(i % 7)), { recursive: true })
      writeFileSync(join(dir, String(i % 7), `${i}.jpg`), testJpeg(`progress import ${i}`, 2048))
    }
    writeFileSync(join(dir, 'notes.txt'), 'not an image: taken, and counted') // 301 files to take
    writeFileSync(join(dir, 'Thumbs.db'), 'excluded: not counted')
    symlinkSync(join(dir, '0/0.jpg'), join(dir, 'latest.jpg')) // not followed: not counted
    const root = await tempDir()
    const mapping = join(await tempDir(), 'import.jsonl')
    const run = onTerminal(['import', '--min-age', '0s', dir, '--mapping', mapping, '--exclude', 'Thumbs.db'], {
      env: { SAI_IMAGE_STORAGE_PATH: root }
    })
    expect(run.code).toBe(0)
    expect(run.output).toMatch(/import \[#{30}\] 301\/301 100% \d+\/s ETA 0s/)
    const migrated = onTerminal(
      ['migrate', '--from', 'fs', '--to', 'fs', '--to-root', await tempDir(), '--mapping', `${mapping}.migrate`],
      { env: { SAI_IMAGE_STORAGE_PATH: root } }
    )
    expect(migrated.code).toBe(0)
    expect(migrated.output).toMatch(/migrate \[#{30}\] 300\/300 100% \d+\/s ETA 0s/)
  }, 120_000)

  it('an ETA reads as time: seconds, minutes, hours, days, rounded up', () => {
    expect([0, 44.2, 60, 725, 3600, 12_000, 86_399, 86_400 * 2 + 3600 * 4].map(formatEta)).toEqual([
      '0s',
      '45s',
      '1m 00s',
      '12m 05s',
      '1h 00m',
      '3h 20m',
      '1d 00h',
      '2d 04h'
    ])
  })
})
