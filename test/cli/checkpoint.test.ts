// verify --checkpoint F --resume after a power cut: the checkpoint is not fsynced (a lost one costs only time), so it
// may come back empty or torn. The resumed run must then check every object, and say why, not stop on a JSON error.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { Checkpoint } from '../../src/cli/checkpoint.js'
import { inSubset } from '../../src/core/verify-report.js'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { DAMAGES } from '../infra/helpers/damage.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

describe('verify --resume', () => {
  it.each([
    ['torn', '{"after":"ab', 'unreadable'],
    ['empty', '', 'empty or missing'],
    ['not a position', '{"after":"../x"}', 'unreadable']
  ])('from a %s checkpoint starts over, checks every object and says so', async (_, text, why) => {
    const root = await tempDir('sai-checkpoint')
    const storage = new FilesystemDriver({ root })
    for (let i = 0; i < 3; i++) await storage.store(testJpeg(`checkpoint ${i}`))
    await storage.close()
    const checkpoint = join(await tempDir(), 'verify.checkpoint')
    writeFileSync(checkpoint, text)
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const run = cli(['verify', '--checkpoint', checkpoint, '--resume'], { env })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(`the checkpoint ${checkpoint} holds no position (${why}): from the start`)
    expect(run.stdout).toContain('3 objects checked')
    writeFileSync(checkpoint, text) // the run removed it when it ended
    const json = cli(['verify', '--checkpoint', checkpoint, '--resume', '--json'], { env })
    expect(json.code).toBe(0)
    expect(answer(json)).toMatchObject({ checked: 3, clean: true })
  })
})

describe('verify --resume from the checkpoint of another run', () => {
  it('of another subset (the nightly --subset K/30 after a killed night) or store starts over: it used to skip, and call a corrupt frame clean', async () => {
    const root = await tempDir('sai-checkpoint')
    const storage = new FilesystemDriver({ root })
    const hashes: string[] = []
    for (let i = 0; i < 40; i++) hashes.push((await storage.store(testJpeg(`subsets ${i}`))).hash)
    await storage.close()
    hashes.sort()
    // last night's run of part 0/2 was killed half-way: its checkpoint is the middle hash
    const after = hashes[20]!
    const before = hashes.slice(0, 20).filter(h => inSubset(h, { index: 1, count: 2 }))
    expect(before.length).toBeGreaterThan(0)
    await DAMAGES.truncated(new FilesystemDriver({ root }).pathOf(before[0]!))
    const checkpoint = join(await tempDir(), 'verify.checkpoint')
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const inPart = hashes.filter(h => inSubset(h, { index: 1, count: 2 })).length
    for (const [label, saved] of [
      ['another subset', { after, store: root, subset: '0/2' }],
      ['no subset (the whole store)', { after, store: root }],
      ['another store', { after, store: '/srv/other', subset: '1/2' }],
      ['a repair (this run only checks)', { after, store: root, subset: '1/2', repair: true }],
      ['an earlier release (no run named)', { after }]
    ] as const) {
      writeFileSync(checkpoint, JSON.stringify(saved))
      const run = cli(['verify', '--subset', '1/2', '--checkpoint', checkpoint, '--resume'], { env })
      expect(run.stderr, label).toContain(`the checkpoint ${checkpoint} is of another run`)
      expect(run.code, label).toBe(1)
      writeFileSync(checkpoint, JSON.stringify(saved))
      const json = cli(['verify', '--subset', '1/2', '--checkpoint', checkpoint, '--resume', '--json'], { env })
      expect(answer(json), label).toMatchObject({ checked: inPart, clean: false, counts: { truncated: 1 } })
    }
    // the same run's checkpoint is resumed: the part after it only
    writeFileSync(checkpoint, JSON.stringify({ after, store: root, subset: '1/2' }))
    const resumed = answer(
      cli(['verify', '--subset', '1/2', '--checkpoint', checkpoint, '--resume', '--json'], { env })
    )
    expect(resumed).toMatchObject({ checked: hashes.slice(21).filter(h => inSubset(h, { index: 1, count: 2 })).length })
    expect(existsSync(checkpoint)).toBe(false)
  })
})

/** A save a second after the checkpoint was made, as the run's progress calls it. */
function saveLater(checkpoint: Checkpoint, after: string): void {
  vi.useFakeTimers({ toFake: ['Date'] })
  try {
    vi.setSystemTime(Date.now() + 2000)
    checkpoint.save(after)
  } finally {
    vi.useRealTimers()
  }
}

describe('Checkpoint', () => {
  it('a save under way when the run finishes does not bring the checkpoint back (the next --resume would skip)', async () => {
    const path = join(await tempDir(), 'verify.checkpoint')
    for (let round = 0; round < 20; round++) {
      const checkpoint = new Checkpoint({ note: () => {} }, path, '/srv/images', { index: 3, count: 30 })
      saveLater(checkpoint, 'ab'.repeat(32))
      await checkpoint.finish()
      expect(existsSync(path), `round ${round}`).toBe(false)
      checkpoint.save('cd'.repeat(32)) // late progress after the end: nothing written
      expect(existsSync(path)).toBe(false)
    }
  })

  it('never goes past a finding: the pass reports and repairs its findings at its end, so a resume after one would skip it (crash workload verify-checkpoint)', async () => {
    const path = join(await tempDir(), 'verify.checkpoint')
    let later = 0
    const saved = async (checkpoint: Checkpoint, done: string) => {
      writeFileSync(path, '')
      later += 2000 // each save a while after the last one (a save is at most once a second)
      vi.useFakeTimers({ toFake: ['Date'] })
      try {
        vi.setSystemTime(Date.now() + later)
        checkpoint.save(done)
      } finally {
        vi.useRealTimers()
      }
      await new Promise(resolve => setTimeout(resolve, 50))
      const text = readFileSync(path, 'utf8')
      return text === '' ? undefined : (JSON.parse(text).after as string)
    }
    const damaged = `40${'7'.repeat(62)}`
    const checkpoint = new Checkpoint({ note: () => {} }, path, '/srv/images', undefined, true)
    checkpoint.found(`40/77/${damaged}.jpg`) // a corrupt object: met in its folder 40/77
    checkpoint.found('.tmp/abc.tmp') // a leftover outside the shard folders: every pass looks at those
    expect(await saved(checkpoint, '3'.repeat(64))).toBe('3'.repeat(64)) // before it: as the pass says
    expect(await saved(checkpoint, 'c'.repeat(64))).toBe(`4076${'f'.repeat(60)}`) // past it: just before its folder
    const misnamed = new Checkpoint({ note: () => {} }, path, '/srv/images', undefined, true)
    misnamed.found('0a/0b/photo.jpg') // no hash in its name: its folder's place
    expect(await saved(misnamed, 'c'.repeat(64))).toBe(`0a0a${'f'.repeat(60)}`)
    const first = new Checkpoint({ note: () => {} }, path, '/srv/images', undefined, true)
    first.found(`00/00/${'0'.repeat(64)}.jpg`) // nothing comes before it: no position is saved
    expect(await saved(first, 'c'.repeat(64))).toBeUndefined()
  })

  it('a checkpoint that cannot be written is said once per failed save, not an unhandled rejection', async () => {
    const notes: string[] = []
    const path = join(await tempDir(), 'no-such-folder', 'verify.checkpoint')
    const checkpoint = new Checkpoint({ note: text => notes.push(text) }, path, '/srv/images', undefined)
    saveLater(checkpoint, 'ab'.repeat(32))
    await checkpoint.finish()
    expect(notes).toEqual([expect.stringContaining(`could not save the checkpoint ${path}`)])
  })
})
