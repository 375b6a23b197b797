// The primary's shard folders watched by their change times (folders.ts), on the real filesystem: a
// pass names the leaf folders whose ctime moved (a frame renamed in, a new folder, one listed again
// after the racy window) and none on a quiet pass; folders removed meanwhile leave the count.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { ShardFolders } from '../../../src/features/replication/folders.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('ShardFolders', () => {
  it('names the changed leaves: all at first, none when nothing moved, the one a file was put into', async () => {
    const root = await tempDir('sai-folders')
    const sharding = new PrefixSharding()
    for (const key of ['ab/cd', 'ab/ef', '01/23']) await mkdir(join(root, key), { recursive: true })
    await mkdir(join(root, '.replication', 'outbox'), { recursive: true }) // not a shard folder
    const folders = new ShardFolders({ root, depth: 2, isShardDir: name => sharding.isShardDir(name) })
    await sleep(2100) // older than the racy window
    expect((await folders.changed()).sort()).toEqual(['01/23', 'ab/cd', 'ab/ef'])
    expect(folders.leaves).toBe(3)
    expect(await folders.changed()).toEqual([])
    await writeFile(join(root, 'ab', 'cd', 'frame.jpg'), 'x')
    expect(await folders.changed()).toEqual(['ab/cd'])
    expect(await folders.changed()).toEqual(['ab/cd']) // its ctime was too close to that pass: named again
    await mkdir(join(root, 'ff', '00'), { recursive: true })
    expect((await folders.changed()).sort()).toEqual(['ab/cd', 'ff/00'])
    expect(folders.leaves).toBe(4)
  })

  it('on a first pass, only leaves changed since `since` count', async () => {
    const root = await tempDir('sai-folders-since')
    const sharding = new PrefixSharding()
    await mkdir(join(root, 'ab', 'cd'), { recursive: true })
    await sleep(2100)
    const since = Date.now()
    await sleep(50) // the kernel's coarse clock stamps a ctime up to a tick behind Date.now()
    await mkdir(join(root, 'ab', 'ef'), { recursive: true })
    const folders = new ShardFolders({ root, depth: 2, isShardDir: name => sharding.isShardDir(name), since })
    expect(await folders.changed()).toEqual(['ab/ef'])
  })
})

const isShardDir = (name: string): boolean => /^[0-9a-f]{2}$/.test(name)

describe('ShardFolders, pass by pass', () => {
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
