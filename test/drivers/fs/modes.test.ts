import { createHash } from 'node:crypto'
import { mkdir, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('FilesystemDriver file and directory modes', () => {
  let umask: number
  beforeEach(() => {
    umask = process.umask(0o027)
  })
  afterEach(() => {
    process.umask(umask)
  })

  it('applies fileMode and dirMode exactly, setgid included, whatever the umask', async () => {
    const root = join(await tempDir(), 'shared')
    const storage = new FilesystemDriver({ root, fileMode: 0o664, dirMode: 0o2775 })
    const { path } = await storage.store(testJpeg('modes'))
    expect((await stat(path)).mode & 0o7777).toBe(0o664)
    expect((await stat(dirname(path))).mode & 0o7777).toBe(0o2775)
    expect((await stat(dirname(dirname(path)))).mode & 0o7777).toBe(0o2775)
    expect((await stat(root)).mode & 0o7777).toBe(0o2775)
  })

  it('uses existing directories as they are', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root, dirMode: 0o2775 })
    const jpeg = testJpeg('existing dirs')
    const shard = dirname(storage.pathOf(createHash('sha256').update(jpeg).digest('hex')))
    await mkdir(shard, { recursive: true, mode: 0o700 })
    const { path } = await storage.store(jpeg)
    expect(dirname(path)).toBe(shard)
    expect((await stat(shard)).mode & 0o7777).toBe(0o700)
  })

  it('without modes, follows the umask like any tool', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const { path } = await storage.store(testJpeg('umask'))
    expect((await stat(path)).mode & 0o777).toBe(0o640)
    expect((await stat(dirname(path))).mode & 0o777).toBe(0o750)
  })
})
