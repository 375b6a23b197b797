// A watcher pass that fails before it has queued every frame it found (the state disk full, a file where the
// outbox folder goes) must not count those frames as seen: the next pass queues them, and status counts them
// until it has. Real filesystem stores; the failure is a real one (ENOTDIR from the outbox).
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { countUnseen, createReplicatedStorage, PrimaryWatcher } from '../../../src/features/replication/index.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('a watcher pass that fails', () => {
  it('leaves the frames it found to the next pass, and to a watcher started again', async () => {
    const root = await tempDir('sai-watch-fail')
    const replicaRoot = await tempDir('sai-watch-fail-replica')
    // another writer's frames (a plain driver: no outbox record), older than the folders' racy window
    const other = new FilesystemDriver({ root })
    const frames = [await other.store(testJpeg('foreign 1')), await other.store(testJpeg('foreign 2'))]
    await other.close()
    await new Promise(resolve => setTimeout(resolve, 2100))
    const open = () =>
      createReplicatedStorage({
        primary: new FilesystemDriver({ root }),
        replicas: [{ name: 'copy', storage: new FilesystemDriver({ root: replicaRoot }) }],
        background: false
      })
    const storage = open()
    const outbox = join(root, '.replication', 'outbox')
    await mkdir(outbox, { recursive: true })
    await writeFile(join(outbox, 'copy'), 'a file where the replica folder goes')
    const watcher = new PrimaryWatcher(storage, { inotifywait: false })
    await expect(watcher.pass('full')).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
    await rm(join(outbox, 'copy'))
    expect(await watcher.pass('full')).toBe(2) // the folders the failed pass had seen, not forgotten
    expect(partsOf(storage).outbox.pending('copy').sort()).toEqual(frames.map(f => f.sha256).sort())
    expect((await countUnseen(storage))?.frames).toBe(0)
    await watcher.stop()
    await storage.close()
  })

  it("an entry under a frame's name that cannot be stat'ed (a link loop: ELOOP) holds up no other frame, on every pass; status counts it", async () => {
    const root = await tempDir('sai-watch-eloop')
    const other = new FilesystemDriver({ root }) // another writer: no outbox record
    const first = await other.store(testJpeg('beside a loop 1'))
    const loop = `ab/cd/abcd${'0'.repeat(60)}.jpg` // a name of the layout, a link to itself
    await mkdir(join(root, 'ab/cd'), { recursive: true })
    await symlink(loop.slice(6), join(root, loop))
    const storage = createReplicatedStorage({
      primary: new FilesystemDriver({ root }),
      replicas: [{ name: 'copy', storage: new FilesystemDriver({ root: await tempDir('sai-watch-eloop-replica') }) }],
      background: false
    })
    const watcher = new PrimaryWatcher(storage, { inotifywait: false })
    await expect(watcher.pass('full')).rejects.toMatchObject({ code: 'ELOOP' }) // loud
    const second = await other.store(testJpeg('beside a loop 2')) // a frame in another folder, after the failure
    await expect(watcher.pass('full')).rejects.toMatchObject({ code: 'ELOOP' })
    const pending = partsOf(storage).outbox.pending('copy').sort()
    expect(pending).toEqual([first.sha256, second.sha256].sort())
    expect(await countUnseen(storage)).toMatchObject({ frames: 1, incomplete: { folder: 'ab/cd', code: 'ELOOP' } })
    await watcher.stop()
    await other.close()
    await storage.close()
  })
})
