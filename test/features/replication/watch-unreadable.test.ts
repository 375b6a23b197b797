// A watcher that cannot read a shard folder (a service running as its own user, a folder another writer made 0700)
// must never take it for empty: the pass fails, loudly, after queuing the frames of the folders it could read, and
// the folder is read again by the next pass. The watcher runs in a real child process as the user `nobody`, since
// root reads every folder; the folders are real.
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { asRoot, closeFolder, foreignFrames, NOBODY, outbox, watcherAsNobody, watchHealth } from './as-nobody.js'

describe('a watcher pass over a folder it cannot read', () => {
  it.skipIf(!asRoot)(
    'fails with the error after queuing the readable folders, and reads that folder next pass',
    async () => {
      const root = await tempDir('sai-watch-unreadable')
      const replica = await tempDir('sai-watch-unreadable-replica')
      const other = new FilesystemDriver({ root }) // another writer: no outbox record
      const frames = [await other.store(testJpeg('readable')), await other.store(testJpeg('unreadable 1'))]
      await other.close()
      expect(frames[0]!.sha256.slice(0, 4)).not.toBe(frames[1]!.sha256.slice(0, 4))
      execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, root, replica])
      const closed = join(root, frames[1]!.sha256.slice(0, 2), frames[1]!.sha256.slice(2, 4))
      chownSync(closed, 0, 0)
      chmodSync(closed, 0o700)
      const watcher = watcherAsNobody(root, replica)
      try {
        expect(await watcher.pass()).toEqual({ failed: 'EACCES' })
        expect(outbox(root)).toEqual([frames[0]!.sha256]) // the readable folder's frame, queued before it failed
        chmodSync(closed, 0o755)
        expect(await watcher.pass()).toEqual({ queued: 1 }) // the same watcher: the folder is read again
      } finally {
        await watcher.stop()
      }
      expect(outbox(root)).toEqual(frames.map(f => f.sha256).sort())
    }
  )

  it.skipIf(!asRoot)(
    'goes on past upper folders it cannot list or enter, on every pass, and names the first in watch.json',
    async () => {
      const { root, replica, frames } = await foreignFrames(5)
      // the first two folders the pass meets: one not listable, one listable whose leaves cannot be stat'ed
      closeFolder(root, frames[0]!.upper, 0o700)
      closeFolder(root, frames[1]!.upper, 0o704)
      const watcher = watcherAsNobody(root, replica)
      try {
        expect(await watcher.pass()).toEqual({ failed: 'EACCES' })
        expect(outbox(root)).toEqual(
          frames
            .slice(2)
            .map(f => f.sha256)
            .sort()
        ) // the folders after them, visited
        expect(watchHealth(root)?.failing).toMatchObject({ folder: frames[0]!.upper, code: 'EACCES' })
        const since = watchHealth(root)!.failing!.since
        expect(await watcher.pass()).toEqual({ failed: 'EACCES' }) // still loud, the same failure
        expect(watchHealth(root)?.failing).toMatchObject({ folder: frames[0]!.upper, since })
        expect(Date.parse(watchHealth(root)!.caughtUpTo)).toBe(0) // no pass saw every folder
        chmodSync(join(root, frames[0]!.upper), 0o755)
        expect(await watcher.pass()).toEqual({ failed: 'EACCES' }) // its frame queued, the next folder's not
        expect(outbox(root)).toEqual([frames[0]!, ...frames.slice(2)].map(f => f.sha256).sort())
        // its leaf, which the pass could not stat
        const leaf = `${frames[1]!.upper}/${frames[1]!.sha256.slice(2, 4)}`
        expect(watchHealth(root)?.failing).toMatchObject({ folder: leaf, code: 'EACCES', since })
        chmodSync(join(root, frames[1]!.upper), 0o755)
        const readAll = Date.now()
        expect(await watcher.pass()).toEqual({ queued: 1 })
        expect(watchHealth(root)?.failing).toBeUndefined()
        expect(Date.parse(watchHealth(root)!.caughtUpTo)).toBeGreaterThanOrEqual(readAll)
      } finally {
        await watcher.stop()
      }
      expect(outbox(root)).toEqual(frames.map(f => f.sha256).sort())
    }
  )
})
