/**
 * inotify watches (`fs.watch`) on the primary's leaf shard folders, as many as a budget allows: a
 * watched folder is not stat'ed on every pass (the idle CPU of the watcher, bench/watch.mjs), its
 * events name it changed instead, and wake the watcher early. Each watch costs Node about 1 KB of
 * RSS (67 MB for 65,536 folders, bench/watch-probe.mjs) and one of the user's inotify watches
 * (`/proc/sys/fs/inotify/max_user_watches`, shared by every process of the user): hence the budget,
 * at most half the user's limit, and none asked for once the kernel refuses one (ENOSPC). Events can be
 * lost (a full inotify queue): the watcher's full passes, which stat every folder, are the safety net.
 */
import { type FSWatcher, readFileSync, watch } from 'node:fs'

/** The user's inotify limit, halved: the rest is left to the user's other programs. */
export function inotifyShare(limits = '/proc/sys/fs/inotify/max_user_watches'): number {
  try {
    return Math.floor(Number(readFileSync(limits, 'utf8').trim()) / 2) || 0
  } catch {
    return 0 // not Linux, or no inotify: stat passes only
  }
}

export class FolderWatches {
  private readonly handles = new Map<string, FSWatcher>()
  private dirty = new Set<string>()
  /** The kernel refused a watch for want of budget: none is asked for again. */
  private refused = false

  constructor(
    /** Watches at most. */
    readonly limit: number,
    /** Called on each event (the watcher then passes early). */
    private readonly onEvent: () => void = () => {}
  ) {}

  get size(): number {
    return this.handles.size
  }

  /** Watches the folder `path` (named `key` in `changed()`); whether it is watched now. */
  add(path: string, key: string): boolean {
    if (this.handles.has(key)) return true
    if (this.refused || this.handles.size >= this.limit) return false
    let handle: FSWatcher
    try {
      handle = watch(path, { persistent: false }, () => {
        this.dirty.add(key)
        this.onEvent()
      })
    } catch (err) {
      // ENOSPC: the user's watches are spent; EMFILE/ENFILE: inotify instances or files. Else (the
      // folder went away meanwhile) only this one is not watched. The stat pass covers the rest.
      if (['ENOSPC', 'EMFILE', 'ENFILE'].includes((err as NodeJS.ErrnoException).code ?? '')) this.refused = true
      return false
    }
    handle.on('error', () => this.drop(key)) // the folder went away: the stat pass notices
    this.handles.set(key, handle)
    return true
  }

  has(key: string): boolean {
    return this.handles.has(key)
  }

  drop(key: string): void {
    this.handles.get(key)?.close()
    this.handles.delete(key)
  }

  /** The folders with an event since the last call. */
  take(): string[] {
    const keys = [...this.dirty]
    this.dirty = new Set()
    return keys
  }

  close(): void {
    for (const handle of this.handles.values()) handle.close()
    this.handles.clear()
  }
}
