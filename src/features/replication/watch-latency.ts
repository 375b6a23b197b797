/**
 * The latency of the watcher's copies (watch.ts): from the rename into place of a frame it found to each
 * replica's verified copy, told to `onCopied` (a metric's histogram).
 */
import type { Stats } from 'node:fs'
import type { WatchOptions } from './watch-options.js'

/** Frames found whose copies are awaited, at most (about 200 bytes each: a day's frames of a busy camera set). */
export const MAX_FOUND = 10_000

const DAY_MS = 86_400_000

export class CopyLatency {
  /** Frames found, until each replica has its copy: when they appeared. */
  private readonly appeared = new Map<string, { at: number; left: number }>()
  /** For the copier's `copied` listeners: a verified copy of `sha256` on `replica`. */
  readonly listener = (replica: string, sha256: string): void => this.copied(replica, sha256)

  constructor(private readonly options: Pick<WatchOptions, 'onCopied'>) {}

  /** A frame found as `file`, queued for the `copies` replicas that lack it. */
  found(sha256: string, file: Stats, copies: number): void {
    // a frame another process copied (the app's copier, `sai-images store`), or deleted, is never told here: those
    // a day old go, so that a service that runs for months holds a bounded map. Full of younger ones (an outage), a
    // new frame is not timed: the oldest, the histogram's tail, are the ones to keep
    if (this.appeared.size >= MAX_FOUND && !this.appeared.has(sha256)) {
      const dayAgo = Date.now() - DAY_MS
      for (const [found, { at }] of this.appeared) {
        if (at >= dayAgo) break
        this.appeared.delete(found)
      }
      if (this.appeared.size >= MAX_FOUND) return
    }
    this.appeared.set(sha256, { at: Math.max(file.ctimeMs, file.mtimeMs), left: copies })
  }

  private copied(replica: string, sha256: string): void {
    const seen = this.appeared.get(sha256)
    if (seen === undefined) return
    if (--seen.left <= 0) this.appeared.delete(sha256)
    try {
      this.options.onCopied?.(sha256, Math.max(0, Date.now() - seen.at) / 1000, replica)
    } catch {} // a listener that throws is not a failed copy
  }
}
