// A watcher started with inotifywait (its passes then take the child's events) over a folder another user made
// unreadable: the events passes must not say "caught up" past the pass that could not read it, or a watcher started
// again (which lists the leaves changed since caughtUpTo - 2 s) would never list that folder's older frames once it
// is readable. The watchers run as `nobody` in real child processes, with the real inotifywait; --health too.
import { createHash } from 'node:crypto'
import { chmodSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../../src/testing/index.js'
import { asRoot, cliAsNobody, closeFolder, foreignFrames, outbox, watcherAsNobody, watchHealth } from './as-nobody.js'

/** A frame whose hash starts with `upper`. */
function frameIn(upper: string): { jpeg: Buffer; hash: string } {
  for (let i = 0; ; i++) {
    const jpeg = testJpeg(`renamed in ${i}`)
    const hash = createHash('sha256').update(jpeg).digest('hex')
    if (hash.startsWith(upper)) return { jpeg, hash }
  }
}

/** Waits until `done()` holds, up to `ms`. */
async function until(done: () => boolean, ms = 20_000): Promise<void> {
  for (const deadline = Date.now() + ms; !done(); await sleep(50))
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${done}`)
}

describe('a started watcher over a folder it cannot read', () => {
  it.skipIf(!asRoot)(
    'stays behind the failed pass, says FAILING to --health, and once restarted queues the folder it could not read',
    async () => {
      const { root, replica, frames } = await foreignFrames(3)
      const closed = frames[0]!.upper
      closeFolder(root, closed, 0o700)
      await sleep(2100) // the frames older than the folders' racy window
      const started = Date.now()
      const first = watcherAsNobody(root, replica, { everyMs: 200 })
      try {
        first.start()
        // events passes for a while after its full pass failed (none moves caughtUpTo)
        await until(
          () => watchHealth(root)?.mechanism === 'inotifywait' && Date.parse(watchHealth(root)!.at) > started + 2500
        )
        const health = watchHealth(root)!
        expect(Date.parse(health.caughtUpTo)).toBeLessThan(started)
        expect(health.failing).toMatchObject({ folder: closed, code: 'EACCES' })
        const said = cliAsNobody(root, replica, ['replicate', '--health'])
        expect(said.code).toBe(1)
        expect(said.stdout).toContain(
          `FAILING since ${health.failing!.since}: cannot read the primary's folder ${closed}`
        )
      } finally {
        await first.stop()
      }
      expect(outbox(root)).toEqual(
        frames
          .slice(1)
          .map(f => f.sha256)
          .sort()
      )

      chmodSync(join(root, closed), 0o755)
      const restarted = Date.now()
      const second = watcherAsNobody(root, replica, { everyMs: 200 })
      try {
        second.start()
        await until(() => outbox(root).length === 3 || Date.now() > restarted + 5000)
        expect(outbox(root)).toEqual(frames.map(f => f.sha256).sort()) // its older frame, found after all
        await until(() => Date.parse(watchHealth(root)?.caughtUpTo ?? '') >= restarted)
        expect(watchHealth(root)?.failing).toBeUndefined()
        expect(cliAsNobody(root, replica, ['replicate', '--health']).code).toBe(0)
      } finally {
        await second.stop()
      }
    },
    60_000
  )

  it.skipIf(!asRoot)(
    'once it can read the folder, watches it anew: caughtUpTo never passes a frame renamed in there unqueued',
    async () => {
      const { root, replica, frames } = await foreignFrames(2)
      const closed = frames[0]!.upper
      closeFolder(root, closed, 0o700)
      const watcher = watcherAsNobody(root, replica, { everyMs: 200, fullEveryMs: 3000 })
      try {
        watcher.start()
        // inotifywait's watches set up while it could not read the folder, and its first full pass over
        await until(() => watchHealth(root)?.mechanism === 'inotifywait' && watchHealth(root)?.failing !== undefined)
        await sleep(600)
        chmodSync(join(root, closed), 0o755)
        await until(() => outbox(root).length === 2 && watchHealth(root)?.failing === undefined) // a full pass
        // into the folder it could not read: the next full pass is 3 s away, only events or stat passes find it sooner
        const { jpeg, hash } = frameIn(closed)
        await writeFile(join(root, 'frame.part'), jpeg)
        await mkdir(join(root, hash.slice(0, 2), hash.slice(2, 4)), { recursive: true })
        await rename(join(root, 'frame.part'), join(root, hash.slice(0, 2), hash.slice(2, 4), `${hash}.jpg`))
        const renamed = Date.now()
        await until(() => Date.parse(watchHealth(root)?.caughtUpTo ?? '') > renamed)
        expect(outbox(root)).toContain(hash)
      } finally {
        await watcher.stop()
      }
    },
    60_000
  )
})
