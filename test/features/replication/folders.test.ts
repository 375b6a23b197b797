// The primary's shard folders watched by their change times (folders.ts): a pass names the leaf
// folders whose ctime moved; a ctime too close to the pass is named again next pass (racy).
import { mkdir, writeFile } from 'node:fs/promises'
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
