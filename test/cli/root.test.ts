// Where am I writing? Every summary names the store by its absolute root (or location), and on a
// terminal the command says when it made a root that did not exist.
import { realpath, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli, onTerminal } from './run.js'

/** No store configured: the default root, ./data/images, in the folder the command runs in. */
const unset = { SAI_IMAGE_STORAGE_PATH: undefined, SAI_IMAGE_STORAGE_DRIVER: undefined }

describe('the store a command works on', () => {
  it('the default root is shown absolute, in the text and in --json', async () => {
    const cwd = await realpath(await tempDir())
    const frame = join(cwd, 'frame.jpg')
    await writeFile(frame, testJpeg('where'))
    const root = join(cwd, 'data/images')
    const stored = answer(cli(['store', frame, '--json'], { env: unset, cwd }))
    expect(stored).toMatchObject({ store: root, path: join(root, stored.key) })
    const text = cli(['store', frame], { env: unset, cwd })
    expect(text.stdout).toContain(join(root, stored.key))
    const summaries = [
      ['verify'],
      ['stats'],
      ['quarantine'],
      ['prune', '--older-than', '90d', '--dry-run'],
      [
        'import',
        '--min-age',
        '0s',
        cwd,
        '--exclude',
        'data/**',
        '--exclude',
        '*.jsonl',
        '--mapping',
        join(cwd, 'm.jsonl')
      ]
    ]
    for (const args of summaries) {
      const run = cli(args, { env: unset, cwd })
      expect({ args, code: run.code }).toEqual({ args, code: 0 })
      expect({ args, last: run.stdout.trim().split('\n').pop() }).toEqual({ args, last: `store: ${root}` })
    }
    expect(cli(['list'], { env: unset, cwd }).stderr).toContain(`store: ${root}`) // stdout holds the listing only
  })

  it('on a terminal, says that it created the root, and where; not when the root was there', async () => {
    const cwd = await realpath(await tempDir())
    const frame = join(cwd, 'frame.jpg')
    await writeFile(frame, testJpeg('created'))
    const first = onTerminal(['store', frame], { env: unset, cwd })
    expect(first.code).toBe(0)
    expect(first.output).toContain(`created the store's root ${join(cwd, 'data/images')}`)
    expect((await stat(join(cwd, 'data/images'))).isDirectory()).toBe(true)
    const second = onTerminal(['store', frame], { env: unset, cwd })
    expect(second.code).toBe(0)
    expect(second.output).toContain('(duplicate)')
    expect(second.output).not.toContain("created the store's root")
  })

  it('off a terminal (a cron job, a pipe) the note stays out of the output', async () => {
    const cwd = await realpath(await tempDir())
    const run = cli(['store', '-'], { env: unset, cwd, input: testJpeg('quiet') })
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
  })
})
