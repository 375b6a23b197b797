// What an import must not record: a JPEG whose writer stalled mid-frame for longer than the import's rest (its end
// marker not written yet), which would be the mapping's frame for good, since a recorded path is not read again;
// and what must not stop it: a folder it cannot read, which would leave every folder after it for the next run,
// and the next, while it lasts.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { appendFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MemoryDriver } from '../../../src/drivers/memory/index.js'
import { importTree } from '../../../src/features/jobs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { CLI } from '../../cli/run.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
const records = async (mapping: string): Promise<any[]> =>
  (await readFile(mapping, 'utf8').catch(() => ''))
    .split('\n')
    .filter(line => line.startsWith('{"source"'))
    .map(line => JSON.parse(line))

describe('import and a frame whose writer stalled', () => {
  it('a JPEG without its end marker, changed a moment ago, fails this run unrecorded; the whole frame is taken next', async () => {
    const dir = await tempDir('sai-unfinished')
    const frame = testJpeg('stalled mid-frame', 40_000)
    await mkdir(join(dir, '3'))
    await writeFile(join(dir, '3', '3200.jpg'), frame.subarray(0, 25_000)) // the writer stalled here
    const mapping = join(await tempDir(), 'import.jsonl')
    const storage = new MemoryDriver()
    const first = await importTree(storage, dir, { mapping, minAgeMs: 0 })
    expect(first.failed).toEqual([
      expect.objectContaining({
        item: '3/3200.jpg',
        code: 'ERR_INVALID_INPUT',
        message: expect.stringMatching(/without its end marker/)
      })
    ])
    expect(await records(mapping)).toEqual([])
    await appendFile(join(dir, '3', '3200.jpg'), frame.subarray(25_000)) // the writer goes on
    const second = await importTree(storage, dir, { mapping, minAgeMs: 0 })
    expect(second).toMatchObject({ done: 1, failed: [] })
    expect(await records(mapping)).toEqual([expect.objectContaining({ source: '3/3200.jpg', sha256: sha256(frame) })])
  })
})

describe('import and a folder it cannot read', () => {
  it('fails that folder alone (exit 1): the folders after it are imported', async () => {
    const dir = await tempDir('sai-unreadable')
    const [store, out] = [await tempDir('sai-unreadable-store'), await tempDir('sai-unreadable-out')]
    for (const folder of ['1', '2']) {
      await mkdir(join(dir, folder))
      await writeFile(join(dir, folder, `${folder}000.jpg`), testJpeg(`unreadable ${folder}`))
    }
    for (const path of [dir, store, out]) await chmod(path, 0o777)
    await chmod(join(dir, '1'), 0o000) // unreadable to the importer (not root: root reads it anyway)
    const mapping = join(out, 'import.jsonl')
    const run = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        CLI,
        'import',
        dir,
        '--mapping',
        mapping,
        '--min-age',
        '0s',
        '--json'
      ],
      { env: { ...process.env, SAI_IMAGE_STORAGE_PATH: store }, encoding: 'utf8' }
    )
    await chmod(join(dir, '1'), 0o755)
    expect(run.status, run.stderr).toBe(1)
    const answer = JSON.parse(run.stdout)
    expect(answer).toMatchObject({
      done: 1,
      failed: [expect.objectContaining({ item: '1/', code: 'ERR_STORAGE_UNAVAILABLE' })]
    })
    expect((await records(mapping)).map(r => r.source)).toEqual(['2/2000.jpg'])
  })
})
