// A shard folder the listing's user cannot read (another user's 0700 folder, seen by a real child process as
// `nobody`: root reads every folder): the listing fails as the store's ERR_STORAGE_UNAVAILABLE, not a raw EACCES
// that `prune`, `migrate` and the CLI took for a bug.
import { spawnSync } from 'node:child_process'
import { chmod, chown, readdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const NOBODY = 65534
const DIST = new URL('../../../dist/', import.meta.url).href

/** Every folder and file under `dir` (and `dir`) given to `nobody`. */
async function giveToNobody(dir: string): Promise<void> {
  await chown(dir, NOBODY, NOBODY)
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    await chown(join(entry.parentPath, entry.name), NOBODY, NOBODY)
}

describe.skipIf(process.getuid?.() !== 0)('list() over a shard folder its user cannot read', () => {
  it('fails as ERR_STORAGE_UNAVAILABLE', async () => {
    const parent = await tempDir()
    await chmod(parent, 0o755)
    const root = join(parent, 'store')
    const storage = new FilesystemDriver({ root })
    const stored = await Promise.all([1, 2, 3].map(async i => await storage.store(testJpeg(`list unreadable ${i}`))))
    await giveToNobody(root)
    const folder = dirname(stored[1]!.path)
    await chown(folder, 0, 0)
    await chmod(folder, 0o700) // root's now: nobody cannot read it
    const script = `
      const { FilesystemDriver } = await import(${JSON.stringify(`${DIST}drivers/fs.js`)})
      const storage = new FilesystemDriver({ root: ${JSON.stringify(root)} })
      try {
        let listed = 0
        for await (const entry of storage.list()) listed++
        console.log(JSON.stringify({ listed }))
      } catch (err) {
        console.log(JSON.stringify({ code: err.code, name: err.constructor.name }))
      }`
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      uid: NOBODY,
      gid: NOBODY,
      encoding: 'utf8'
    })
    expect(child.stderr).toBe('')
    expect(JSON.parse(child.stdout)).toEqual({ code: 'ERR_STORAGE_UNAVAILABLE', name: 'StorageUnavailableError' })
  })
})
