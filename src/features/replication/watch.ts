/**
 * The watcher of `replicate --watch`: frames that any process puts into the primary's layout
 * (storage.py, rsync, a rename by hand) are queued in the outbox and copied within seconds, though
 * no outbox record was written for them. By default one `inotifywait -m -r` child watches the layout
 * (inotifywait.ts): an event brings the next pass to within `SETTLE_MS`; every folder is stat'ed
 * (folders.ts) only every `fullEveryMs` (60 s) or once events were lost. Without it, a pass every
 * `everyMs` (5 s) stats the folders (those Node's own watches, folder-watches.ts, do not cover).
 * A pass lists the folders that changed and queues their frames that no replica holds verified nor
 * has queued (unqueued.ts). A frame replaced under its name is compared
 * with the replica's copy by size, as the reconcile compares them; a frame deleted by another process
 * is left to the copier ("gone"). Each pass writes `watch.json` in the state folder (watch-health.ts):
 * the health a monitor reads, and where the next watcher (after a restart, even a SIGKILL) or
 * `status` starts looking.
 *
 * @example
 * ```ts
 * const watcher = new PrimaryWatcher(storage, { onCopied: (sha256, seconds) => histogram.observe(seconds) })
 * watcher.start()
 * await watcher.stop()
 * ```
 */
import { resolve } from 'node:path'
import { ConfigError } from '../../core/errors.js'
import { failureFields, log } from '../../core/logger.js'
import { PrefixSharding, type ShardingStrategy } from '../../core/sharding.js'
import { FolderWatches, inotifyShare } from './folder-watches.js'
import { ShardFolders } from './folders.js'
import { keepWatching, type LayoutWatch, type WatchMechanism } from './inotifywait.js'
import { partsOf, type Parts } from './parts.js'
import type { ReplicatedStorage } from './storage.js'
import { queueFolders } from './unqueued.js'
import { caughtUpTo, writeWatchHealth } from './watch-health.js'
import { CopyLatency } from './watch-latency.js'
import type { WatchOptions } from './watch-options.js'
import { WatchProgress } from './watch-progress.js'

export { caughtUpTo, readWatchHealth, type WatchHealth } from './watch-health.js'
export type { WatchOptions } from './watch-options.js'

/** Before the last pass's start, by this much: a change in the same clock tick is not missed. */
const SLACK_MS = 2000
/** From a watch's event to the pass that lists its folder: a writer's temporary file is renamed by then. */
const SETTLE_MS = 500

export class PrimaryWatcher {
  readonly everyMs: number
  readonly fullEveryMs: number
  queued = 0
  private lastQueuedAt?: number
  private readonly folders: ShardFolders
  readonly watches?: FolderWatches
  /** The inotifywait child, once a pass counted the folders. */
  private child?: LayoutWatch
  private lastStat = Number.NEGATIVE_INFINITY
  private lastFull = Number.NEGATIVE_INFINITY
  /** How far every frame was seen, and the folder the passes cannot read (watch-progress.ts). */
  private readonly progress = new WatchProgress()
  /** The folders of a pass that failed before it queued all their frames (a full state disk): the next pass's. */
  private unfinished: string[] = []
  /** An event came since the current pass began: pass again soon. */
  private wake = false
  private dueAt = 0
  private readonly sharding: ShardingStrategy
  private readonly root: string
  private readonly parts: Parts
  private timer?: NodeJS.Timeout
  private running?: Promise<void>
  private stopped = false
  private readonly latency: CopyLatency

  constructor(
    private readonly storage: ReplicatedStorage,
    private readonly options: WatchOptions = {}
  ) {
    this.parts = partsOf(storage)
    const root = storage.primary.root
    if (root === undefined)
      throw new ConfigError('primary', `the ${storage.primary.driver} primary has no local folder to watch`)
    this.root = resolve(root)
    this.everyMs = options.everyMs ?? 5000
    this.fullEveryMs = options.fullEveryMs ?? 60_000
    this.sharding = (storage.primary as { sharding?: ShardingStrategy }).sharding ?? new PrefixSharding()
    const maxWatches = Math.min(options.maxWatches ?? 0, inotifyShare())
    if (maxWatches > 0) this.watches = new FolderWatches(maxWatches, () => this.soon())
    this.folders = new ShardFolders({
      root: this.root,
      depth: this.sharding.depth,
      isShardDir: name => this.sharding.isShardDir(name),
      since: caughtUpTo(this.parts.layout) - SLACK_MS,
      watches: this.watches
    })
    this.latency = new CopyLatency(options)
    this.parts.copier.copied.add(this.latency.listener) // until stop()
  }

  /** Passes every `everyMs` (sooner after a watch's event) until stopped; the first at once. */
  start(): void {
    const loop = (): void => {
      this.timer = undefined
      this.wake = false
      this.running = this.pass(this.nextMode())
        .then(
          () => {},
          (err: unknown) => this.failed(err)
        )
        .finally(() => {
          this.running = undefined
          if (this.stopped) return
          try {
            this.watchLayout() // once the first pass counted the folders
          } catch (err) {
            // (out of file handles, inotifywait's pipes not made): the passes go on, the service stays up
            this.failed(err)
          }
          const due = this.wake ? SETTLE_MS : this.lastStat + this.everyMs - Date.now()
          this.dueAt = Date.now() + Math.max(0, due)
          this.timer = setTimeout(loop, Math.max(0, due))
        })
    }
    this.loop = loop
    loop()
  }

  private failed(err: unknown): void {
    const fields = { event: 'replication.watch-failed', ...failureFields(err) }
    log(this.options.logger ?? this.parts.logger, 'error', fields, `watch: ${(err as Error).message}`)
  }

  private loop?: () => void

  /** A watched folder changed: the next pass within `SETTLE_MS` (after the current one, if one runs). */
  private soon(): void {
    this.wake = true
    if (this.timer === undefined || this.stopped || this.dueAt - Date.now() <= SETTLE_MS) return
    clearTimeout(this.timer)
    this.dueAt = Date.now() + SETTLE_MS
    this.timer = setTimeout(this.loop!, SETTLE_MS)
  }

  /** Ends the passes and the latency reports (a watcher used for `pass()` only too); says "stopped" at once. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
    this.watches?.close()
    this.child?.close()
    this.parts.copier.copied.delete(this.latency.listener)
    if (this.loop !== undefined) this.writeHealth(new Date().toISOString())
  }

  /**
   * A started watcher's next pass: every folder stat'ed if `fullEveryMs` passed; with a live
   * inotifywait, its events only; else the folders not watched stat'ed if `everyMs` passed, else
   * (brought forward by an event) the folders that watches named.
   */
  private nextMode(): 'events' | 'stat' | 'full' {
    const now = Date.now()
    if (now - this.lastFull >= this.fullEveryMs) return 'full'
    if (this.child?.live === true) return 'events' // a full pass too if it lost events (pass())
    return now - this.lastStat >= this.everyMs - SETTLE_MS ? 'stat' : 'events'
  }

  /** Which mechanism finds the frames of other writers now. */
  get mechanism(): WatchMechanism {
    if (this.child?.live === true) return 'inotifywait'
    return this.watches === undefined ? 'stat' : 'fs.watch'
  }

  /** The inotifywait child (inotifywait.ts), unless told not to or Node's watches were asked for. */
  private watchLayout(): void {
    const { inotifywait, maxWatches } = this.options
    if (inotifywait === false || maxWatches !== undefined || this.folders.count === 0) return
    const init = {
      root: this.root,
      depth: this.sharding.depth,
      isShardDir: (name: string) => this.sharding.isShardDir(name),
      command: inotifywait,
      onEvent: () => this.soon(),
      onTrouble: (message: string) =>
        log(this.options.logger ?? this.parts.logger, 'warn', { event: 'replication.watch-inotifywait' }, message)
    }
    this.child = keepWatching(this.child, init, this.folders.count, this.fullEveryMs)
  }

  /**
   * One pass: the changed folders' unqueued frames queued, the copier woken; how many were queued.
   * By hand, a full pass: every folder stat'ed.
   */
  async pass(mode: 'events' | 'stat' | 'full' = 'full'): Promise<number> {
    const started = Date.now()
    const live = this.child?.live === true
    const events = this.child?.take()
    if (events?.lost === true) mode = 'full'
    // first what a failed pass left (no stat names those folders again); the events kept before the stats run
    this.unfinished = [...new Set([...this.unfinished, ...(events?.keys ?? [])])]
    const keys = [...new Set([...this.unfinished, ...(await this.folders.changed(mode))])]
    this.unfinished = keys
    if (mode !== 'events' || live) this.lastStat = started
    if (mode === 'full') this.lastFull = started
    const { outbox, ledger, copier } = this.parts
    const at = { root: this.root, sharding: this.sharding, outbox, ledger, storage: this.storage }
    const { queued, failed, failure } = await queueFolders(at, keys, (sha256, file, copies) =>
      this.latency.found(sha256, file, copies)
    )
    this.unfinished = failed // first next pass; a failure is logged by the loop
    const problem = this.folders.failure ?? failure
    // caught up only by a pass that stat'ed every folder: inotifywait's events can miss a frame and not say so (a
    // child stalled, a folder made before its watch), and a watcher started again lists only what changed since
    const complete = mode !== 'events' && this.folders.complete
    if (this.progress.passed(mode, complete, started, problem)) {
      this.child?.close() // started again by the loop, watching the folders readable now (stat passes meanwhile)
      this.child = undefined
    }
    if (queued > 0) {
      this.queued += queued
      this.lastQueuedAt = Date.now()
      if (this.storage.background) copier.kick() // else whoever drains (replicate --watch's loop)
    }
    this.writeHealth()
    if (problem !== undefined) throw problem.error
    return queued
  }

  private writeHealth(stoppedAt?: string): void {
    writeWatchHealth(this.parts.layout, {
      at: new Date().toISOString(),
      everyMs: this.everyMs,
      caughtUpTo: new Date(this.progress.caughtUp ?? caughtUpTo(this.parts.layout)).toISOString(),
      failing: this.progress.failing,
      folders: this.folders.leaves,
      mechanism: this.mechanism,
      watched: this.mechanism === 'inotifywait' ? this.folders.leaves : (this.watches?.size ?? 0),
      queued: this.queued,
      lastQueuedAt: this.lastQueuedAt === undefined ? undefined : new Date(this.lastQueuedAt).toISOString(),
      stoppedAt
    })
  }
}
