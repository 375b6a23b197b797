// A watcher that cannot read a shard folder (a service running as its own user, a folder another writer made 0700)
// must never take it for empty: the pass fails, loudly, after queuing the frames of the folders it could read, and
// the folder is read again by the next pass. The watcher runs in a real child process as the user `nobody`, since
// root reads every folder; the folders are real.
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, chownSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const DIST = new URL('../../../dist/', import.meta.url).href
const NOBODY = 65534

/** A watcher as `nobody` in a child process: each `pass()` runs one full pass, what it threw (its code) or queued. */
function watcherAsNobody(root: string, replica: string): { pass: () => Promise<Outcome>; stop: () => Promise<void> } {
  const script = `
    import { createInterface } from 'node:readline'
    import { FilesystemDriver } from '${DIST}drivers/fs.js'
    import { createReplicatedStorage, PrimaryWatcher } from '${DIST}replication.js'
    const storage = createReplicatedStorage({
      primary: new FilesystemDriver({ root: process.argv[1] }),
      replicas: [{ name: 'copy', storage: new FilesystemDriver({ root: process.argv[2] }) }],
      background: false
    })
    const watcher = new PrimaryWatcher(storage, { inotifywait: false, logger: { log() {} } })
    for await (const line of createInterface({ input: process.stdin })) {
      const out = await watcher.pass('full').then(queued => ({ queued }), err => ({ failed: err.code }))
      console.log(JSON.stringify(out))
    }
    await watcher.stop()
    await storage.close()`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, root, replica], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return {
    pass: async () => {
      child.stdin!.write('pass\n')
      return JSON.parse((await lines.next()).value as string) as Outcome
    },
    stop: async () => {
      child.stdin!.end()
      await once(child, 'exit')
    }
  }
}

type Outcome = { failed?: string; queued?: number }

describe('a watcher pass over a folder it cannot read', () => {
  it.skipIf(process.getuid?.() !== 0)(
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
      const outbox = (): string[] => {
        try {
          return readdirSync(join(root, '.replication', 'outbox', 'copy')).sort()
        } catch {
          return []
        }
      }
      const watcher = watcherAsNobody(root, replica)
      try {
        expect(await watcher.pass()).toEqual({ failed: 'EACCES' })
        expect(outbox()).toEqual([frames[0]!.sha256]) // the readable folder's frame, queued before it failed
        chmodSync(closed, 0o755)
        expect(await watcher.pass()).toEqual({ queued: 1 }) // the same watcher: the folder is read again
      } finally {
        await watcher.stop()
      }
      expect(outbox()).toEqual(frames.map(f => f.sha256).sort())
    }
  )
})
