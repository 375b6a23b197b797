/** The options of the watcher of `replicate --watch` (watch.ts). */
import type { Logger } from '../../core/logger.js'

export interface WatchOptions {
  /** Between passes, ms. Default 5000: a frame is queued within about that, copied moments later. */
  everyMs?: number
  /**
   * The program that watches the whole layout (inotifywait.ts), as one child process: default
   * `inotifywait` on PATH (Debian's inotify-tools); false: none. Without it (not installed, or the
   * layout's folders do not fit 3/4 of the user's `max_user_watches`), the watcher stats every
   * folder each pass (0.1 s of CPU at 1M objects). Not used when `maxWatches` is given.
   */
  inotifywait?: string | false
  /**
   * Node's own inotify watches (`fs.watch`) on leaf shard folders instead of inotifywait, at most this
   * many and never more than half the user's `max_user_watches`; 0: stat passes only. A watched folder
   * costs no CPU between full passes but about 1.4 KB of RSS in the service (32,768 at 1M objects:
   * idle CPU 3.5 -> 2.1 %, RSS 75 -> 121 MB, bench/RESULTS-watch.md).
   */
  maxWatches?: number
  /** Between full passes (every folder stat'ed, watched or not: the net for lost events), ms. Default 60000. */
  fullEveryMs?: number
  /**
   * Told of each verified replica copy of a frame this watcher found, with the seconds from its
   * rename into place (the file's ctime) to the verified copy: the latency a metric observes.
   */
  onCopied?: (sha256: string, latencySeconds: number, replica: string) => void
  logger?: Logger
}
