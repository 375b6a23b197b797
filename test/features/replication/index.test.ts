// createReplicatedStorage (index.ts): the replicas and the state folder checked before anything
// is made, each refusal a ConfigError naming the setting.
import { mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { MemoryDriver } from '../../../src/drivers/memory/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('createReplicatedStorage', () => {
  it('refuses no replica, a bad or reserved name, two replicas of one name', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-index') })
    const memory = new MemoryDriver()
    const refused = (replicas: Array<{ name: string; storage: MemoryDriver }>): unknown => {
      try {
        createReplicatedStorage({ primary, replicas })
      } catch (err) {
        return err
      }
      return 'nothing thrown'
    }
    expect(refused([])).toMatchObject({
      code: 'ERR_CONFIG',
      variable: 'replicas',
      message: 'replicas: name at least one replica'
    })
    for (const name of ['', 'S3', '-s3', 'a'.repeat(33), 'off site', 'primary'])
      expect(refused([{ name, storage: memory }])).toMatchObject({
        code: 'ERR_CONFIG',
        variable: 'replicas',
        message: `replicas: a replica's name is 1 to 32 of a-z 0-9 _ - (and not "primary"), got ${JSON.stringify(name)}`
      })
    expect(
      refused([
        { name: 's3', storage: memory },
        { name: 's3', storage: memory }
      ])
    ).toMatchObject({
      variable: 'replicas',
      message: 'replicas: two replicas are called the same: s3, s3'
    })
  })

  it("refuses a filesystem replica that is the primary's own folder by another path (a symbolic link)", async () => {
    const root = await tempDir('sai-index')
    const primary = new FilesystemDriver({ root })
    const link = join(await tempDir('sai-index-link'), 'replica')
    await symlink(root, link)
    const replica = new FilesystemDriver({ root: link })
    expect(replica.root).not.toBe(primary.root) // not the same path: only the folder tells
    expect(() => createReplicatedStorage({ primary, replicas: [{ name: 'copy', storage: replica }] })).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG',
        variable: 'replicas',
        message: `replicas: the replica copy is the primary's own folder (${link})`
      })
    )
    // another folder is accepted, and so is a replica root not made yet (its own error comes with its first use)
    const other = join(await tempDir('sai-index-other'), 'images')
    await mkdir(other)
    for (const elsewhere of [other, join(other, 'missing')])
      await createReplicatedStorage({
        primary,
        replicas: [{ name: 'copy', storage: new FilesystemDriver({ root: elsewhere, createRoot: false }) }]
      }).close()
  })

  it('keeps its state under the primary root, or in stateDir; a primary without a root needs stateDir', async () => {
    const root = await tempDir('sai-index-state')
    const replicas = [{ name: 'copy', storage: new MemoryDriver() }]
    const onRoot = createReplicatedStorage({ primary: new FilesystemDriver({ root }), replicas, background: false })
    expect(onRoot.stateDir).toBe(join(root, '.replication'))
    const memory = new MemoryDriver()
    expect(() => createReplicatedStorage({ primary: memory, replicas })).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG',
        variable: 'stateDir',
        message: expect.stringContaining('SAI_IMAGE_STORAGE_REPLICATION_PATH')
      })
    )
    const elsewhere = createReplicatedStorage({
      primary: memory,
      replicas,
      stateDir: join(root, 'state'),
      background: false
    })
    expect(elsewhere.stateDir).toBe(join(root, 'state'))
    expect(elsewhere.driver).toBe('replicated')
    expect(elsewhere.location).toBe('memory, replicated to copy (memory)')
    await onRoot.close()
    await elsewhere.close()
  })
})
