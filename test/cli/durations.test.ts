// Durations without ambiguity: `m` is minutes to some and months to others (restic's `6m`), so it is
// refused naming both; months and years exist; every command that takes a duration lists the units.
import { utimes } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

const DAY = 86_400_000

/** Frames last stored 10, 200 and 400 days ago. */
async function agedStore(): Promise<Record<string, string>> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  for (const days of [10, 200, 400]) {
    const { path } = await storage.store(testJpeg(`durations ${root} ${days}`, 2000))
    const when = new Date(Date.now() - days * DAY)
    await utimes(path, when, when)
  }
  return { SAI_IMAGE_STORAGE_PATH: root }
}

describe('durations', () => {
  it('a bare m is refused, naming minutes and months, before anything is done', async () => {
    const env = await agedStore()
    for (const args of [
      ['prune', '--older-than', '7m', '--dry-run'],
      ['evict', '--older-than', '6m'],
      ['quarantine', 'purge', '--older-than', '6m'],
      ['replicate', '--watch', '--reconcile-every', '30m']
    ]) {
      const run = cli([...args, '--json'], { env })
      expect(run.code, args.join(' ')).toBe(2)
      const { error } = answer(run)
      expect(error.code).toBe('ERR_USAGE')
      expect(error.message).toMatch(/ambiguous: write \d+min for minutes or \d+mo for months/)
    }
  })

  it('mo and y are months (30 days) and years (365 days); min is minutes', async () => {
    const env = await agedStore()
    const chosen = (older: string): number =>
      answer(cli(['prune', '--older-than', older, '--dry-run', '--json'], { env })).wouldDelete
    expect(chosen('7mo')).toBe(1) // 210 days: only the frame of 400 days
    expect(chosen('6month')).toBe(2) // 180 days
    expect(chosen('6months')).toBe(2) // as help and docs/cli.md say
    expect(chosen('1y')).toBe(1)
    expect(chosen('2y')).toBe(0)
    expect(chosen('90min')).toBe(3)
    expect(chosen('2w')).toBe(2)
    const wrong = cli(['prune', '--older-than', '3 fortnights', '--json'], { env })
    expect(wrong.code).toBe(2)
    expect(answer(wrong).error.message).toMatch(/such as 90d, 12h, 2w, 6mo, 1y, 30min or 45s/)
  })

  it('the help of every command that takes a duration lists the units', () => {
    for (const command of ['prune', 'evict', 'replicate', 'quarantine']) {
      const help = cli(['help', command]).stdout
      expect(help, command).toContain('s, min, h, d, w, mo or month(s) (30 days), y (365 days); a bare m is refused')
    }
  })

  it('a size without a unit is refused naming the units; nothing is deleted', async () => {
    const env = await agedStore()
    for (const size of ['500', '0', '1.5']) {
      const run = cli(['prune', '--max-bytes', size, '--json'], { env })
      expect(run.code, size).toBe(2)
      const { error } = answer(run)
      expect(error.code).toBe('ERR_USAGE')
      expect(error.message).toMatch(/--max-bytes takes a size with a unit such as 500G, .*1000B/)
    }
    expect(cli(['list', '--json'], { env }).stdout.trim().split('\n')).toHaveLength(3)
    const budget = (size: string): number =>
      answer(cli(['prune', '--max-bytes', size, '--dry-run', '--json'], { env })).wouldDelete
    expect(budget('1T')).toBe(0)
    expect(budget('100GiB')).toBe(0)
    expect(budget('1B')).toBe(3)
    expect(budget('1b')).toBe(3)
    expect(cli(['help', 'prune']).stdout).toContain('Sizes: units: B, K, M, G, T (binary: 500G = 500 GiB)')
  })
})
