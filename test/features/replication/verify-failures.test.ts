// The full tier of verify (a subset: replica copies read back) when a replica cannot be read or the caller
// aborts: a typed ERR_STORAGE_UNAVAILABLE (the CLI's exit 5) or the abort itself (exit 130), never a plain Error
// that the CLI reports as a bug. Two real filesystem stores; the replica's reads fail through a wrapper (a
// replica that lists but cannot be read cannot be made otherwise as root).
import { describe, expect, it } from 'vitest'
import { StorageUnavailableError } from '../../../src/core/errors.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

async function withReplicaReads(fail: (signal?: AbortSignal) => Promise<never>): Promise<ReplicatedStorage> {
  const real = new FilesystemDriver({ root: await tempDir('sai-replica') })
  let failing = false
  const replica = new Proxy(real, {
    get(target, property) {
      if (property === 'fetch' && failing)
        return async (_ref: string, options?: { signal?: AbortSignal }) => await fail(options?.signal)
      return Reflect.get(target, property, target)
    }
  })
  const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
  const storage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'copy', storage: replica }],
    background: false
  })
  await storage.store(testJpeg('verify failures', 5000))
  await storage.drain()
  failing = true
  return storage
}

describe('verify, full tier, a replica that cannot be read', () => {
  it('is ERR_STORAGE_UNAVAILABLE naming the replica, with the cause', async () => {
    const down = new StorageUnavailableError('the replica is down', '/mnt/replica')
    const storage = await withReplicaReads(async () => {
      throw down
    })
    const err = await storage.verify({ subset: { index: 0, count: 1 } }).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(StorageUnavailableError)
    expect(err).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      cause: down,
      message: expect.stringContaining('copy')
    })
    await storage.close()
  })

  it('an abort while a replica copy is read is the abort', async () => {
    const controller = new AbortController()
    const storage = await withReplicaReads(async signal => {
      controller.abort()
      signal?.throwIfAborted()
      throw new Error('not reached')
    })
    await expect(storage.verify({ subset: { index: 0, count: 1 }, signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError'
    })
    await storage.close()
  })
})
