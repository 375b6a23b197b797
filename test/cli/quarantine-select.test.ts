// quarantine restore and purge by selection: --all, --reason, --older-than, --since (issue 34),
// on entries of a real filesystem store's quarantine.
import { rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

const DAY = 86_400_000

describe('quarantine restore and purge by selection', () => {
  it('by reason and age, then --all; ids and a selection together, or --all with a filter, are refused', async () => {
    const root = await tempDir()
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const storage = new FilesystemDriver({ root })
    const [f1, f2, f3] = await Promise.all([1, 2, 3].map(async i => await storage.store(testJpeg(`quarantined ${i}`))))
    const e1 = (await storage.quarantine.add(f1!.sha256, 'corrupt'))!
    const e2 = (await storage.quarantine.add(f2!.sha256, 'healed'))!
    const e3 = (await storage.quarantine.add(f3!.sha256, 'corrupt'))!
    // e3 taken out ten days ago: its name says when
    const oldId = e3.id.replace(`.${e3.quarantinedAt.getTime()}.`, `.${Date.now() - 10 * DAY}.`)
    await rename(e3.path, join(dirname(e3.path), oldId))

    expect(cli(['quarantine', 'restore', e1.id, '--all'], { env })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('ids or a selection')
    })
    expect(cli(['quarantine', 'purge', '--all', '--reason', 'corrupt'], { env })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--all takes every entry')
    })
    expect(cli(['quarantine', 'restore'], { env })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('or a selection')
    })

    // the corrupt ones of the last day: e1 only
    expect(
      answer(cli(['quarantine', 'restore', '--reason', 'corrupt', '--since', '1d', '--json'], { env }))
    ).toMatchObject({ restored: [e1.id], refused: [] })
    expect(await storage.exists(f1!.sha256)).toBe(true)
    expect(await storage.exists(f3!.sha256)).toBe(false)
    // older than 5 days: e3 only
    expect(answer(cli(['quarantine', 'purge', '--older-than', '5d', '--json'], { env }))).toMatchObject({
      purged: [oldId],
      refused: []
    })
    // a selection that matches nothing does nothing
    expect(answer(cli(['quarantine', 'restore', '--reason', 'misnamed', '--json'], { env }))).toMatchObject({
      restored: [],
      refused: []
    })
    // the rest
    expect(answer(cli(['quarantine', 'restore', '--all', '--json'], { env }))).toMatchObject({
      restored: [e2.id],
      refused: []
    })
    expect(await storage.exists(f2!.sha256)).toBe(true)
    expect(answer(cli(['quarantine', 'list', '--json'], { env }))).toMatchObject({ objects: 0, entries: [] })
    await storage.close()
  })

  it('an unknown --reason is a usage error naming the reasons; a refused id says which refusal it is', async () => {
    const root = await tempDir()
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const storage = new FilesystemDriver({ root })
    const frame = await storage.store(testJpeg('quarantined typo'))
    const entry = (await storage.quarantine.add(frame.sha256, 'corrupt'))!
    for (const reason of ['bogus', 'currupt']) {
      const run = cli(['quarantine', 'restore', '--reason', 'corrupt', '--reason', reason, '--json'], { env })
      expect(run.code, reason).toBe(2)
      expect(answer(run).error).toMatchObject({
        code: 'ERR_USAGE',
        message: expect.stringMatching(
          `^--reason ${reason} is not a reason of the quarantine: ` +
            'empty, truncated, corrupt, misnamed, misplaced, healed'
        )
      })
    }
    // a reason an entry of this store carries (a library caller's own) still selects it
    const own = (await storage.quarantine.add((await storage.store(testJpeg('own reason'))).sha256, 'audit'))!
    expect(answer(cli(['quarantine', 'purge', '--reason', 'audit', '--json'], { env }))).toMatchObject({
      purged: [own.id]
    })
    // intact bytes under their name again: the entry's name is taken; a prefix is no entry at all
    await storage.store(testJpeg('quarantined typo'))
    const taken = cli(['quarantine', 'restore', entry.id, frame.sha256.slice(0, 4)], { env })
    expect(taken.code).toBe(1)
    expect(taken.stdout).toContain(`not restored: ${entry.id} (an object is already stored under its name)`)
    expect(taken.stdout).toContain(`not restored: ${frame.sha256.slice(0, 4)} (no such entry: ids are the names`)
    expect(await storage.quarantine.list().next()).toMatchObject({ value: { id: entry.id } })
    await storage.close()
  })

  it(
    '--dry-run: restore and purge list what they would do and refuse, with the real exit code; ' + 'nothing changes',
    async () => {
      const root = await tempDir()
      const env = { SAI_IMAGE_STORAGE_PATH: root }
      const storage = new FilesystemDriver({ root })
      const frames = await Promise.all([1, 2, 3].map(async i => await storage.store(testJpeg(`dry run ${root} ${i}`))))
      const [intact, damaged, taken] = await Promise.all(
        frames.map(async f => (await storage.quarantine.add(f.sha256, 'corrupt'))!)
      )
      await writeFile(damaged!.path, Buffer.from('not the frame'))
      await storage.store(testJpeg(`dry run ${root} 3`)) // stored again: its name is taken
      const listed = async (): Promise<string[]> =>
        answer(cli(['quarantine', '--json'], { env })).entries.map((e: { id: string }) => e.id)
      const before = await listed()
      expect(before).toHaveLength(3)

      const purge = cli(['quarantine', 'purge', '--all', '--dry-run', '--json'], { env })
      expect(purge.code).toBe(0)
      expect(answer(purge)).toMatchObject({ dryRun: true, refused: [] })
      expect([...answer(purge).wouldPurge].sort()).toEqual([...before].sort())
      expect(answer(purge).wouldFree).toBeGreaterThan(0)
      expect(cli(['quarantine', 'purge', '--older-than', '1d', '--dry-run'], { env }).stdout).toContain(
        'would purge 0 objects (0 B); dry run, nothing changed'
      )

      const restore = cli(['quarantine', 'restore', '--all', '--dry-run', '--json'], { env })
      expect(restore.code).toBe(4) // as the real run: the damaged entry is refused without --force
      expect(answer(restore)).toMatchObject({ dryRun: true, wouldRestore: [intact!.id] })
      expect([...answer(restore).refused].sort()).toEqual([damaged!.id, taken!.id].sort())
      const text = cli(['quarantine', 'restore', '--all', '--dry-run'], { env }).stdout
      expect(text).toContain(`would not be restored: ${damaged!.id} (its bytes do not match its name`)
      expect(text).toContain(`would not be restored: ${taken!.id} (an object is already stored under its name)`)
      expect(await listed()).toEqual(before)
      expect(await storage.exists(intact!.sha256)).toBe(false)

      // the real run does what the dry run said
      const real = cli(['quarantine', 'restore', '--all', '--json'], { env })
      expect(real.code).toBe(4)
      expect(answer(real).restored).toEqual([intact!.id])
      expect([...answer(real).refused].sort()).toEqual([damaged!.id, taken!.id].sort())
    }
  )
})
