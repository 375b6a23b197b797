// Whole-store commands in bounded memory: a budget prune and a dry run over a store the old way
// could not hold in a small heap; verify's subsets and its resume after a SIGKILL.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { inSubset } from '../../../src/core/verify-report.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const CLI = join(ROOT, 'dist/cli.js')
const DAY = 24 * 3600 * 1000
const HEAD = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1])

/** `count` tiny objects in storage.py's layout, last stored over 400 days, written straight to disk (fast). */
function bigStore(root: string, count: number): { hashes: string[]; bytes: number } {
  const hashes: string[] = []
  let bytes = 0
  const made = new Set<string>()
  for (let i = 0; i < count; i++) {
    const body = Buffer.concat([HEAD, Buffer.from(`frame ${i} ${root}`)])
    const hash = createHash('sha256').update(body).digest('hex')
    const dir = join(root, hash.slice(0, 2), hash.slice(2, 4))
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true })
      made.add(dir)
    }
    const path = join(dir, `${hash}.jpg`)
    writeFileSync(path, body)
    const when = (Date.now() - (1 + ((i * 7919) % 400)) * DAY) / 1000
    utimesSync(path, when, when)
    hashes.push(hash)
    bytes += body.length
  }
  return { hashes, bytes }
}

describe('whole-store commands in bounded memory', () => {
  it('a budget prune and a dry run over 150,000 objects in a 24 MB heap: the old way held every ' +
    'candidate and stat', async () => {
    const root = await tempDir('sai-scale')
    const { bytes } = bigStore(root, 150_000)
    const run = (...args: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, ['--max-old-space-size=24', CLI, 'prune', '--root', root, '--json', ...args], {
        encoding: 'utf8',
        maxBuffer: 64 * 2 ** 20
      })
    const dry = run('--max-bytes', `${Math.floor(bytes / 2)}B`, '--dry-run')
    expect(dry.stderr).toBe('')
    expect(dry.status).toBe(0)
    const report = JSON.parse(dry.stdout as string)
    expect(report).toMatchObject({ examined: 150_000, deleted: 0, dryRun: true, overBudget: false })
    expect(report.wouldFree).toBeGreaterThanOrEqual(bytes / 2 - 100)
    expect(report.wouldFree).toBeLessThan(bytes / 2 + 100)
    expect(report.passes).toBe(1) // one walk: the budget's cut is found in its spill file
    expect(report.chosenByBudget).toBe(report.wouldDelete)
    // the budget's choice is the oldest: nothing chosen is younger than anything kept
    expect(new Date(report.newestChosen).getTime()).toBeLessThan(Date.now() - 100 * DAY)
    // a real one, that deletes the oldest 1% (each deletion a set-aside and an fsync: kept short)
    const budget = bytes - Math.floor(bytes / 100)
    const real = run('--max-bytes', `${budget}B`)
    expect(real.status).toBe(0)
    const done = JSON.parse(real.stdout as string)
    expect(done).toMatchObject({ examined: 150_000, overBudget: false, renewed: 0 })
    expect(done.deleted).toBe(done.chosenByBudget)
    expect(done.remainingBytes).toBeLessThanOrEqual(budget)
    expect(done.remainingBytes).toBeGreaterThan(budget - 100)
    expect(new Date(done.newestChosen).getTime()).toBeLessThan(Date.now() - 390 * DAY) // the oldest went
  }, 240_000)

  it('verify --subset K/N: every object falls in exactly one of N subsets, the same ones every run', async () => {
    const root = await tempDir('sai-subset')
    const { hashes } = bigStore(root, 3000)
    const storage = new FilesystemDriver({ root })
    const seen = new Map<string, number>()
    const N = 7
    for (let k = 0; k < N; k++) {
      const checked: string[] = []
      const report = await storage.verify({ subset: { index: k, count: N } })
      expect(report.problems).toEqual([])
      for (const hash of hashes) if (inSubset(hash, { index: k, count: N })) checked.push(hash)
      expect(report.checked).toBe(checked.length)
      for (const hash of checked) seen.set(hash, (seen.get(hash) ?? 0) + 1)
    }
    expect(seen.size).toBe(hashes.length)
    expect([...seen.values()].every(n => n === 1)).toBe(true)
    // and the CLI's runs agree with each other
    const counts = (): number[] =>
      Array.from(
        { length: N },
        (_, k) =>
          JSON.parse(
            spawnSync(process.execPath, [CLI, 'verify', '--root', root, '--subset', `${k}/${N}`, '--json'], {
              encoding: 'utf8'
            }).stdout
          ).checked
      )
    const first = counts()
    expect(first.reduce((a, b) => a + b, 0)).toBe(3000)
    expect(counts()).toEqual(first)
  }, 120_000)

  it('a verify killed midway resumes from its checkpoint and checks only what is left', async () => {
    const root = await tempDir('sai-resume')
    const { hashes } = bigStore(root, 100_000)
    const checkpoint = join(await tempDir(), 'verify.checkpoint')
    const child = spawn(
      process.execPath,
      [CLI, 'verify', '--root', root, '--checkpoint', checkpoint, '--concurrency', '1'],
      { stdio: 'ignore' }
    )
    const closed = new Promise(resolve => child.on('close', resolve))
    let saved: { after?: string } = {}
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && saved.after === undefined; ) {
      await new Promise(resolve => setTimeout(resolve, 100))
      saved = JSON.parse(await readFile(checkpoint, 'utf8').catch(() => '{}'))
    }
    child.kill('SIGKILL')
    await closed
    saved = JSON.parse(await readFile(checkpoint, 'utf8'))
    expect(saved.after).toMatch(/^[0-9a-f]{64}$/)
    const left = hashes.filter(h => h > saved.after!).length
    expect(left).toBeLessThan(hashes.length)
    const resumed = spawnSync(
      process.execPath,
      [CLI, 'verify', '--root', root, '--checkpoint', checkpoint, '--resume', '--json'],
      { encoding: 'utf8' }
    )
    expect(resumed.status).toBe(0)
    expect(JSON.parse(resumed.stdout).checked).toBe(left)
    await expect(readFile(checkpoint)).rejects.toMatchObject({ code: 'ENOENT' }) // finished: the next run starts over
  }, 180_000)
})
