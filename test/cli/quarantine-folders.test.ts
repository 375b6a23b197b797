// A folder in the quarantine: an older release's replicated repair moved a folder that stood under a frame's name
// there, as a `healed` entry, with what it held. list shows it (its files' bytes), restore refuses it even with
// --force (a typed error, the folder kept), a selection never purges it, purge by its id deletes it whole.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

/** A store whose frame `a` an older repair moved into the quarantine as a folder, beside a plain `corrupt` entry. */
async function storeWithFolderEntry(): Promise<{
  root: string
  env: Record<string, string>
  storage: FilesystemDriver
  sha256: string
  folder: string
  id: string
  plain: string
}> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const { sha256, path } = await storage.store(testJpeg('a frame whose place held a folder'))
  const other = await storage.store(testJpeg('a plain quarantined frame'))
  const plain = (await storage.quarantine.add(other.sha256, 'corrupt'))!.id
  rmSync(path)
  const id = `${sha256}.1764000000000.healed`
  const folder = join(root, '.quarantine', id)
  mkdirSync(join(folder, 'sub'), { recursive: true })
  writeFileSync(join(folder, 'keep.txt'), 'an operator put this here') // 25 bytes
  writeFileSync(join(folder, 'sub', 'frame.jpg'), Buffer.alloc(1000))
  return { root, env: { SAI_IMAGE_STORAGE_PATH: root }, storage, sha256, folder, id, plain }
}

describe('a folder in the quarantine', () => {
  it('list shows it, marked, with the bytes it holds; a fetch of its frame says what it is', async () => {
    const { env, sha256, id } = await storeWithFolderEntry()
    const listed = answer(cli(['quarantine', 'list', '--json'], { env }))
    expect(listed.entries).toContainEqual(expect.objectContaining({ id, folder: true, size: 1025, reason: 'healed' }))
    const text = cli(['quarantine', 'list'], { env })
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`${id}  1025 bytes  healed (a folder, not a frame's file: restore refuses it`)
    const fetch = cli(['fetch', sha256], { env })
    expect(fetch.code).toBe(1)
    expect(fetch.stderr).toContain('a folder stood under its name, and is there with what it held')
    expect(fetch.stderr).not.toContain('--force')
  })

  it('restore refuses it, with --force too, typed (ERR_INVALID_INPUT), and keeps it whole; a plain entry restores', async () => {
    const { env, storage, sha256, folder, id, plain } = await storeWithFolderEntry()
    await expect(storage.quarantine.restore(id, { force: true })).rejects.toMatchObject({
      code: 'ERR_INVALID_INPUT',
      message: expect.stringContaining(`Cannot restore ${id}: it is a folder`)
    })
    expect(answer(cli(['quarantine', 'restore', plain, '--json'], { env }))).toMatchObject({ restored: [plain] })
    for (const args of [
      ['restore', id],
      ['restore', '--force', id],
      ['restore', '--all', '--force']
    ]) {
      const run = cli(['quarantine', ...args, '--json'], { env })
      expect({ args, code: run.code }).toEqual({ args, code: 1 })
      expect(answer(run).refused).toEqual([id])
      expect(answer(run).reasons[id]).toContain('it is a folder')
    }
    const dry = answer(cli(['quarantine', 'restore', id, '--dry-run', '--json'], { env }))
    expect(dry).toMatchObject({ wouldRestore: [], refused: [id] })
    expect(readFileSync(join(folder, 'keep.txt'), 'utf8')).toBe('an operator put this here')
    expect(existsSync(join(folder, 'sub', 'frame.jpg'))).toBe(true)
    expect(await storage.exists(sha256)).toBe(false)
  })

  it('a selection never purges it (it is named as refused); purge by its id deletes it with all it holds', async () => {
    const { env, storage, folder, id, plain } = await storeWithFolderEntry()
    const dry = cli(['quarantine', 'purge', '--all', '--dry-run', '--json'], { env })
    expect(dry.code).toBe(1)
    expect(answer(dry)).toMatchObject({ wouldPurge: [plain], refused: [id] })
    const all = cli(['quarantine', 'purge', '--all'], { env })
    expect(all.code).toBe(1)
    expect(all.stdout).toContain(`not purged: ${id} (a folder, with what it holds: a selection never purges one`)
    expect(existsSync(join(folder, 'keep.txt'))).toBe(true)
    expect(cli(['quarantine', 'purge', '--reason', 'healed'], { env }).code).toBe(1)
    expect(existsSync(join(folder, 'keep.txt'))).toBe(true)
    const named = cli(['quarantine', 'purge', id, '--json'], { env })
    expect(named.code).toBe(0)
    expect(answer(named)).toMatchObject({ purged: [id], refused: [] })
    expect(existsSync(folder)).toBe(false)
    expect(await storage.quarantine.purge(id)).toBe(false) // gone
  })
})
