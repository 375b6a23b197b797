// A folder to import that its user cannot read (another user's 0700 folder, seen by a real child process as
// `nobody`: root reads every folder): bad input, typed, naming the folder, and nothing stored.
import { spawnSync } from 'node:child_process'
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const NOBODY = 65534
const DIST = new URL('../../../dist/', import.meta.url).href

describe.skipIf(process.getuid?.() !== 0)('importTree of a folder its user cannot read', () => {
  it('is ERR_INVALID_INPUT naming the folder, not a raw EACCES', async () => {
    const parent = await tempDir()
    await chmod(parent, 0o755)
    const dir = join(parent, 'frames')
    await mkdir(dir, { mode: 0o700 })
    await writeFile(join(dir, '1.jpg'), testJpeg('unreadable import', 3000))
    const root = join(parent, 'store')
    await mkdir(root, { mode: 0o777 })
    await chmod(root, 0o777)
    const script = `
      const { FilesystemDriver } = await import(${JSON.stringify(`${DIST}drivers/fs.js`)})
      const { importTree } = await import(${JSON.stringify(`${DIST}jobs.js`)})
      const storage = new FilesystemDriver({ root: ${JSON.stringify(root)} })
      try {
        await importTree(storage, ${JSON.stringify(dir)}, { mapping: ${JSON.stringify(join(root, 'm.jsonl'))} })
        console.log(JSON.stringify({ imported: true }))
      } catch (err) {
        console.log(JSON.stringify({ code: err.code, name: err.constructor.name, message: err.message }))
      }`
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      uid: NOBODY,
      gid: NOBODY,
      encoding: 'utf8'
    })
    expect(child.stderr).toBe('')
    expect(JSON.parse(child.stdout)).toEqual({
      code: 'ERR_INVALID_INPUT',
      name: 'InvalidInputError',
      message: expect.stringMatching(new RegExp(`^Cannot import the directory ${dir}: .*\\(EACCES\\)$`))
    })
    // no shard folder: nothing stored
    expect((await readdir(root)).filter(name => /^[0-9a-f]{2}$/.test(name))).toEqual([])
  })
})
