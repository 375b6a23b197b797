/**
 * What `status` cannot see in the outbox: frames other processes put on the primary that nobody
 * queued yet. The folders changed since the last watcher pass or reconcile (whichever is later)
 * are listed, and their frames that no replica holds verified nor has queued are counted. Without
 * either, every folder is listed once: the count is never a "0 pending" by default. A folder that cannot be
 * read (EACCES, EIO) makes the count `incomplete` (the frames of the others are still counted), never smaller.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { PrefixSharding, type ShardingStrategy } from '../../core/sharding.js'
import { ShardFolders } from './folders.js'
import { partsOf } from './parts.js'
import { readRecord } from './records.js'
import type { ReplicatedStorage } from './storage.js'
import { CopyBook, framesIn } from './unqueued.js'
import { caughtUpTo, type WatcherState, type WatchHealth, watcherState } from './watch-health.js'
import { failureOf } from './watch-progress.js'

export interface Unseen {
  /** Frames on the primary with no outbox record and no verified replica copy. */
  frames: number
  /** The oldest write (mtime) of those frames: how long one has waited to be queued; null when there are none. */
  oldestAt: Date | null
  /** Folders changed since this were listed (null: every folder, nothing was caught up yet). */
  since: Date | null
  /** When this count was made. */
  at: Date
  /**
   * The first folder that could not be read (`ab/cd`; `.`: the root), and the error: `frames` is then a lower
   * bound. Null when every folder was read.
   */
  incomplete: { folder: string; code: string; message: string } | null
  /**
   * The watcher's last pass, its state (`live`: a recent pass, within 3 × `everyMs` + 10 s, by a process still
   * running), and the folder its passes cannot read (watch.json's `failing`); null if none ever ran here.
   */
  watcher: {
    at: Date
    everyMs: number
    live: boolean
    state: WatcherState
    mechanism: WatchHealth['mechanism']
    failing?: WatchHealth['failing']
  } | null
}

/** Counts the unqueued frames now; a primary without a local folder has none to find. */
export async function countUnseen(storage: ReplicatedStorage): Promise<Unseen | undefined> {
  const root = storage.primary.root
  if (root === undefined) return undefined
  const { layout, outbox, ledger } = partsOf(storage)
  const at = new Date()
  const since = caughtUpTo(layout)
  const sharding = (storage.primary as { sharding?: ShardingStrategy }).sharding ?? new PrefixSharding()
  const folders = new ShardFolders({
    root,
    depth: sharding.depth,
    isShardDir: name => sharding.isShardDir(name),
    since: since - 2000
  })
  const book = new CopyBook(
    outbox,
    ledger,
    storage.replicas.map(r => r.name)
  )
  let frames = 0
  let oldest = Number.POSITIVE_INFINITY
  const keys = await folders.changed()
  let unread = folders.failure
  for (const key of keys) {
    let found: string[]
    try {
      found = framesIn(root, key, sharding)
    } catch (error) {
      unread ??= { folder: key, error }
      continue // the other folders still count
    }
    for (const sha256 of found) {
      if (book.lacking(sha256).length === 0) continue
      frames++
      try {
        const file = statSync(join(root, sharding.encode(sha256)), { throwIfNoEntry: false })
        if (file !== undefined) oldest = Math.min(oldest, file.mtimeMs)
      } catch (error) {
        unread ??= { folder: key, error } // (ELOOP, EIO): counted, and named
      }
    }
  }
  const health = readRecord<WatchHealth>(layout.watchHealth)
  const watcher =
    health === undefined
      ? null
      : {
          at: new Date(health.at),
          everyMs: health.everyMs,
          live: watcherState(health, at.getTime()) === 'live',
          state: watcherState(health, at.getTime()),
          mechanism: health.mechanism,
          failing: health.failing
        }
  const incomplete = unread === undefined ? null : { folder: unread.folder, ...failureOf(unread.error) }
  const oldestAt = Number.isFinite(oldest) ? new Date(oldest) : null
  return { frames, oldestAt, since: since === 0 ? null : new Date(since), at, incomplete, watcher }
}
