// quarantine restore and purge by selection: --all, --reason, --older-than, --since (issue 34),
// on entries of a real filesystem store's quarantine.
import { rename } from 'node:fs/promises'
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
})
