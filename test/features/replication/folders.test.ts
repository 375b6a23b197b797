// The watcher's shard folders (folders.ts), on the real filesystem: a pass names the leaf folders
// whose ctime moved (a frame renamed in, a new folder, one listed again after the racy window) and
// none on a quiet pass; folders removed meanwhile are dropped from the count.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { ShardFolders } from '../../../src/features/replication/folders.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const isShardDir = (name: string): boolean => /^[0-9a-f]{2}$/.test(name)

describe('ShardFolders', () => {
  it('names the leaves that changed, and none on a quiet pass', async () => {
    const root = await tempDir('sai-folders')
    for (const key of ['aa/bb', 'aa/cc', 'dd/ee']) await mkdir(join(root, key), { recursive: true })
    await mkdir(join(root, 'aa', 'not-a-shard'))
    const folders = new ShardFolders({ root, depth: 2, isShardDir, since: 0 })
    expect((await folders.changed()).sort()).toEqual(['aa/bb', 'aa/cc', 'dd/ee'])
    expect(folders.leaves).toBe(3)
    await sleep(2100) // past the racy window: the next pass records their ctimes
    await folders.changed()
    expect(await folders.changed()).toEqual([])

    await writeFile(join(root, 'aa', 'cc', 'x.tmp'), 'x')
    await rename(join(root, 'aa', 'cc', 'x.tmp'), join(root, 'aa', 'cc', 'x.jpg'))
    await mkdir(join(root, 'dd', 'ff'))
    await mkdir(join(root, 'ab', 'cd'), { recursive: true })
    await rm(join(root, 'aa', 'bb'), { recursive: true })
    expect((await folders.changed()).sort()).toEqual(['aa/cc', 'ab/cd', 'dd/ff'])
    expect(folders.leaves).toBe(4)
    await sleep(2100)
    expect((await folders.changed()).sort()).toEqual(['aa/cc', 'ab/cd', 'dd/ff']) // listed again: racy then
    expect(await folders.changed()).toEqual([])

    await rm(join(root, 'dd'), { recursive: true })
    expect(await folders.changed()).toEqual([])
    expect(folders.leaves).toBe(2)
  })

  it('counts only leaves changed since `since` on the first pass; depth 1 and 0', async () => {
    const root = await tempDir('sai-folders-depth')
    await mkdir(join(root, 'ab'))
    await mkdir(join(root, 'cd'))
    expect(await new ShardFolders({ root, depth: 1, isShardDir, since: Date.now() + 60_000 }).changed()).toEqual([])
    const one = new ShardFolders({ root, depth: 1, isShardDir, since: 0 })
    expect((await one.changed()).sort()).toEqual(['ab', 'cd'])
    expect(one.leaves).toBe(2)
    const flat = new ShardFolders({ root, depth: 0, isShardDir, since: 0 })
    expect(await flat.changed()).toEqual([''])
    expect(flat.leaves).toBe(1)
  })
})
