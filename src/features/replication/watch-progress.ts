/**
 * How far the watcher has seen every frame (watch.json's `caughtUpTo`), and the folder it cannot read (`failing`).
 * A stat or full pass that could not read a folder leaves a hole that only a later stat or full pass reading every
 * folder fills: an events pass never lists that folder again. Until one does, `caughtUp` stays where it was (the
 * pass before the hole, at the latest), so a watcher started again, which lists the leaves changed since
 * `caughtUpTo` - 2 s, still lists that folder's older leaves once it can read them.
 */
import { failureFields } from '../../core/logger.js'

/** A folder a pass could not read (its key, `ab/cd`; `.`: the root), and the first error. */
export interface FolderFailure {
  folder: string
  error: unknown
}

/** In watch.json while the watcher's passes cannot read a folder: since when, which, and the error. */
export interface WatchFailing {
  since: string
  folder: string
  code: string
  message: string
}

export class WatchProgress {
  /** The start of the last pass after which every frame renamed in before it was seen (ms). */
  caughtUp?: number
  failing?: WatchFailing
  /** A stat or full pass failed, and none read every folder since. */
  private hole = false

  /**
   * A pass ended. `complete`: it stat'ed every folder (stat, full) or took every event (events); `caughtUp` is
   * where it would take the watcher; `failure`: the first folder it could not read. True if it read every folder
   * after passes that could not: inotifywait (`-r`) passes over a folder it cannot read without a word, and never
   * watches it once it can, so its events no longer name every change until it is started again.
   */
  passed(mode: 'events' | 'stat' | 'full', complete: boolean, caughtUp: number, failure?: FolderFailure): boolean {
    const hole = this.hole
    if (mode !== 'events' && failure !== undefined) this.hole = true
    else if (mode !== 'events' && complete) this.hole = false
    if (failure === undefined && complete && !this.hole) this.caughtUp = caughtUp
    if (failure !== undefined) {
      const since = this.failing?.since ?? new Date().toISOString()
      this.failing = { since, folder: failure.folder, ...failureOf(failure.error) }
    } else if (!this.hole) this.failing = undefined
    return hole && !this.hole
  }
}

/** An error's code and message, as logs and reports name them. */
export function failureOf(error: unknown): { code: string; message: string } {
  const { code, error: message } = failureFields(error)
  return { code, message }
}
