// The watcher's inotify watches on the leaf shard folders (folder-watches.ts), on the real filesystem:
// a frame renamed into a watched folder is queued through the watch's event, long before any stat pass
// would find it; with a watch budget too small, the folders left unwatched are found by the stat pass;
// a leaf removed and made again under its name is watched anew.
import { createHash } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { FolderWatches, inotifyShare } from '../../../src/features/replication/folder-watches.js'
import { ShardFolders } from '../../../src/features/replication/folders.js'
import { createReplicatedStorage, PrimaryWatcher, readWatchHealth } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** A frame not yet in place, its leaf folder made (so that the watcher's first pass finds it). */
async function frame(root: string, label: string): Promise<{ hash: string; put: () => Promise<void> }> {
  const jpeg = testJpeg(label, 3000)
  const hash = sha256(jpeg)
  const path = join(root, hash.slice(0, 2), hash.slice(2, 4), `${hash}.jpg`)
  await mkdir(dirname(path), { recursive: true })
  // written beside and renamed into place, as storage.py does
  const put = async (): Promise<void> => {
    await writeFile(`${path}.tmp`, jpeg)
    await rename(`${path}.tmp`, path)
  }
  return { hash, put }
}

async function store() {
  const primary = new FilesystemDriver({ root: await tempDir('sai-inotify') })
  const replica = new FilesystemDriver({ root: await tempDir('sai-inotify-replica') })
  const storage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'copy', storage: replica }],
    background: false
  })
  return { primary, replica, storage }
}

/** Waits up to `ms` for `done()`; whether it came. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise(r => setTimeout(r, 50)))
    if (done()) return true
  return done()
}

const key = (hash: string): string => `${hash.slice(0, 2)}/${hash.slice(2, 4)}`

describe('the watcher with inotify watches', () => {
  it('queues a frame renamed into a watched folder from its event; without watches, not before a pass', async () => {
    for (const maxWatches of [32, 0]) {
      const { primary, replica, storage } = await store()
      const a = await frame(primary.root, `watched ${maxWatches}`)
      // no stat pass within the test: only an event can name the folder
      const watcher = new PrimaryWatcher(storage, { everyMs: 600_000, fullEveryMs: 600_000, maxWatches })
      watcher.start()
      expect(await until(() => readWatchHealth(storage.stateDir) !== undefined, 5000)).toBe(true)
      expect(readWatchHealth(storage.stateDir)).toMatchObject({ folders: 1, watched: maxWatches > 0 ? 1 : 0 })
      await a.put()
      const queued = await until(() => watcher.queued === 1, 3000)
      await watcher.stop()
      if (maxWatches === 0) {
        expect(queued).toBe(false) // the control: the next stat pass is 10 minutes away
        expect(await watcher.pass()).toBe(1) // and a pass finds it
      } else {
        expect(queued).toBe(true)
        expect(await storage.drain()).toMatchObject({ copied: 1, pending: 0 })
        expect(sha256(await replica.fetch(a.hash))).toBe(a.hash)
      }
      await storage.close()
    }
  }, 30_000)

  it('with a budget of one watch, the folders left unwatched are stat-ed each pass and still copied', async () => {
    const { primary, replica, storage } = await store()
    const frames = [await frame(primary.root, 'budget 1'), await frame(primary.root, 'budget 2')]
    expect(key(frames[0]!.hash)).not.toBe(key(frames[1]!.hash))
    const watcher = new PrimaryWatcher(storage, { everyMs: 1000, fullEveryMs: 600_000, maxWatches: 1 })
    watcher.start()
    expect(await until(() => readWatchHealth(storage.stateDir) !== undefined, 5000)).toBe(true)
    expect(readWatchHealth(storage.stateDir)).toMatchObject({ folders: 2, watched: 1 })
    const unwatched = frames.find(f => !watcher.watches!.has(key(f.hash)))!
    await unwatched.put()
    expect(await until(() => watcher.queued === 1, 5000)).toBe(true)
    await watcher.stop()
    expect(await storage.drain()).toMatchObject({ copied: 1, pending: 0 })
    expect(sha256(await replica.fetch(unwatched.hash))).toBe(unwatched.hash)
    await storage.close()
  }, 30_000)

  it('a watched leaf removed and made again under its name is watched anew', async () => {
    const root = await tempDir('sai-inotify-again')
    const a = await frame(root, 'made again')
    let events = 0
    const watches = new FolderWatches(8, () => events++)
    const folders = new ShardFolders({
      root,
      depth: 2,
      isShardDir: name => new PrefixSharding().isShardDir(name),
      watches
    })
    await folders.changed('full')
    expect(watches.has(key(a.hash))).toBe(true)
    await rm(join(root, key(a.hash)), { recursive: true })
    await mkdir(join(root, key(a.hash)))
    expect(await folders.changed('stat')).toEqual([key(a.hash)]) // its parent changed: its leaves stat-ed
    await new Promise(r => setTimeout(r, 200)) // the old watch's last events (the folder's removal)
    events = 0
    await a.put()
    // the old folder's watch would stay silent: the new folder's watch tells
    expect(await until(() => events > 0, 3000)).toBe(true)
    expect(await folders.changed('events')).toEqual([key(a.hash)])
    watches.close()
  })

  it('an event lost (a full inotify queue) is made up for by the full pass, which stats watched folders', async () => {
    const root = await tempDir('sai-inotify-lost')
    const a = await frame(root, 'lost event')
    let events = 0
    const watches = new FolderWatches(8, () => events++)
    const folders = new ShardFolders({
      root,
      depth: 2,
      isShardDir: name => new PrefixSharding().isShardDir(name),
      watches
    })
    await new Promise(r => setTimeout(r, 2100)) // the folders' ctimes out of the racy window
    await folders.changed('full')
    expect(folders.complete).toBe(true)
    await a.put()
    expect(await until(() => events >= 2, 3000)).toBe(true) // the temporary file, the rename
    await new Promise(r => setTimeout(r, 100))
    watches.take() // lost
    expect(await folders.changed('stat')).toEqual([]) // the watched folder is not stat-ed
    expect(folders.complete).toBe(false)
    expect(await folders.changed('full')).toEqual([key(a.hash)])
    watches.close()
  })

  it("takes at most half the user's inotify limit, none where there is no inotify", async () => {
    const dir = await tempDir('sai-inotify-limit')
    await writeFile(join(dir, 'max_user_watches'), '8192\n')
    expect(inotifyShare(join(dir, 'max_user_watches'))).toBe(4096)
    expect(inotifyShare(join(dir, 'absent'))).toBe(0)
  })
})
