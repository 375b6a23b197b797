// verify --checkpoint F --resume after a power cut: the checkpoint is not fsynced (a lost one costs only time), so it
// may come back empty or torn. The resumed run must then check every object, and say why, not stop on a JSON error.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
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
