/**
 * The watcher of `replicate --watch`: frames that any process puts into the primary's layout
 * (storage.py, rsync, a rename by hand) are queued in the outbox and copied within seconds, though
 * no outbox record was written for them. Every `everyMs` (5 s) a pass finds the shard folders whose
 * ctime moved (folders.ts) and, in them, the frames no replica holds verified nor has queued
 * (unqueued.ts). A frame replaced under its name is compared with the replica's copy by size, as
 * the reconcile compares them; a frame deleted by another process is left to the copier ("gone").
 * Each pass writes `watch.json` in the state folder (layout.ts): the health a monitor reads, and where the next watcher
 * (after a restart, even a SIGKILL) or `status` starts looking.
 *
 * @example
 * ```ts
 * const watcher = new PrimaryWatcher(storage, { onCopied: (sha256, seconds) => histogram.observe(seconds) })
 * watcher.start()
 * await watcher.stop()
 * ```
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../core/errors.js'
import { failureFields, log, type Logger } from '../../core/logger.js'
import { PrefixSharding, type ShardingStrategy } from '../../core/sharding.js'
import { ShardFolders } from './folders.js'
import { StateLayout } from './layout.js'
import { partsOf, type Parts } from './parts.js'
import { readRecord, writeRecordSync } from './records.js'
import type { ReconcileReport } from './types.js'
import type { ReplicatedStorage } from './storage.js'
import { CopyBook, framesIn } from './unqueued.js'

export interface WatchOptions {
  /** Between passes, ms. Default 5000: a frame is queued within about that, copied moments later. */
  everyMs?: number
  /**
   * Told of each verified replica copy of a frame this watcher found, with the seconds from its
   * rename into place (the file's ctime) to the verified copy: the latency a metric observes.
   */
  onCopied?: (sha256: string, latencySeconds: number, replica: string) => void
  logger?: Logger
}

/** `watch.json` in the state folder, rewritten after each pass. */
export interface WatchHealth {
  pid: number
  /** When the last pass ended (ISO). A monitor alarms when it is older than a few `everyMs`. */
  at: string
  everyMs: number
  /** Every frame renamed into place before this (ISO) was queued or held verified by then. */
  caughtUpTo: string
  folders: number
  /** Frames this watcher queued since it started, and when the last one was. */
  queued: number
  lastQueuedAt?: string
}

/** Before the last pass's start, by this much: a change in the same clock tick is not missed. */
const SLACK_MS = 2000

export class PrimaryWatcher {
  readonly everyMs: number
  queued = 0
  private lastQueuedAt?: number
  private readonly folders: ShardFolders
  private readonly sharding: ShardingStrategy
  private readonly root: string
  private readonly parts: Parts
  /** Frames found here, until each replica has its copy: when they appeared. */
  private readonly appeared = new Map<string, { at: number; left: number }>()
  private timer?: NodeJS.Timeout
  private running?: Promise<void>
  private stopped = false
  private readonly listener = (replica: string, sha256: string): void => {
    this.copied(replica, sha256)
  }

  constructor(
    private readonly storage: ReplicatedStorage,
    private readonly options: WatchOptions = {}
  ) {
    this.parts = partsOf(storage)
    const root = storage.primary.root
    if (root === undefined)
      throw new ConfigError('primary', `the ${storage.primary.driver} primary has no local folder to watch`)
    this.root = root
    this.everyMs = options.everyMs ?? 5000
    this.sharding = (storage.primary as { sharding?: ShardingStrategy }).sharding ?? new PrefixSharding()
    this.folders = new ShardFolders({
      root,
      depth: this.sharding.depth,
      isShardDir: name => this.sharding.isShardDir(name),
      since: caughtUpTo(this.parts.layout) - SLACK_MS
    })
    this.parts.copier.copied.add(this.listener) // until stop()
  }

  /** Passes every `everyMs` until stopped; the first at once. */
  start(): void {
    const loop = (): void => {
      this.running = this.pass()
        .then(
          () => {},
          (err: unknown) => {
            log(
              this.options.logger ?? this.parts.logger,
              'error',
              { event: 'replication.watch-failed', ...failureFields(err) },
              `watch: ${(err as Error).message}`
            )
          }
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.everyMs)
        })
    }
    loop()
  }

  /** Ends the passes, and the latency reports (a watcher only used for `pass()` is stopped too). */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
    this.parts.copier.copied.delete(this.listener)
  }

  /** One pass: the changed folders' unqueued frames queued, the copier woken; how many were queued. */
  async pass(): Promise<number> {
    const started = Date.now()
    const { outbox, ledger, copier } = this.parts
    const book = new CopyBook(
      outbox,
      ledger,
      this.storage.replicas.map(r => r.name)
    )
    let queued = 0
    for (const key of await this.folders.changed()) {
      for (const sha256 of framesIn(this.root, key, this.sharding)) {
        const file = statSync(join(this.root, this.sharding.encode(sha256)), { throwIfNoEntry: false })
        if (file === undefined) continue // deleted meanwhile: nothing to copy
        const lacking: string[] = []
        for (const { name } of this.storage.replicas) {
          if (book.queued(name, sha256)) continue
          const record = book.verified(name, sha256)
          // written after its copy was verified: replaced (or renewed); the reconcile's size check decides
          if (record === undefined || (file.mtimeMs > record.at && (await this.differs(name, sha256, file.size))))
            lacking.push(name)
        }
        if (lacking.length === 0) continue
        await outbox.add(sha256, lacking)
        this.appeared.set(sha256, { at: Math.max(file.ctimeMs, file.mtimeMs), left: lacking.length })
        queued++
      }
    }
    if (queued > 0) {
      this.queued += queued
      this.lastQueuedAt = Date.now()
      if (this.storage.background) copier.kick() // else whoever drains (replicate --watch's loop)
    }
    this.writeHealth(started)
    return queued
  }

  /** Whether the replica's copy is missing or of another size than the primary's. */
  private async differs(replica: string, sha256: string, size: number): Promise<boolean> {
    const storage = this.storage.replicas.find(r => r.name === replica)!.storage
    const stat = await storage.stat(sha256).catch(() => undefined)
    return stat?.size !== size
  }

  private copied(replica: string, sha256: string): void {
    const seen = this.appeared.get(sha256)
    if (seen === undefined) return
    if (--seen.left <= 0) this.appeared.delete(sha256)
    try {
      this.options.onCopied?.(sha256, Math.max(0, Date.now() - seen.at) / 1000, replica)
    } catch {} // a listener that throws is not a failed copy
  }

  private writeHealth(started: number): void {
    const health: WatchHealth = {
      pid: process.pid,
      at: new Date().toISOString(),
      everyMs: this.everyMs,
      caughtUpTo: new Date(started).toISOString(),
      folders: this.folders.leaves,
      queued: this.queued,
      lastQueuedAt: this.lastQueuedAt === undefined ? undefined : new Date(this.lastQueuedAt).toISOString()
    }
    writeRecordSync(this.parts.layout.watchHealth, health)
  }
}

/** The watcher's health in the state folder `stateDir` (a replicated store's `stateDir`); undefined if none. */
export function readWatchHealth(stateDir: string): WatchHealth | undefined {
  return readRecord<WatchHealth>(new StateLayout(stateDir).watchHealth)
}

/**
 * Until when (ms) every frame renamed into place was seen: the last watcher's pass, or the last
 * reconcile's start (its listings saw every frame there then), whichever is later; 0 if neither.
 */
export function caughtUpTo(layout: StateLayout): number {
  const watched = Date.parse(readRecord<WatchHealth>(layout.watchHealth)?.caughtUpTo ?? '')
  const last = readRecord<ReconcileReport>(layout.reconcileReport)
  // an interrupted one did not list everything
  const reconciled = last === undefined || last.interrupted === true ? Number.NaN : Date.parse(String(last.at))
  return Math.max(0, Number.isNaN(watched) ? 0 : watched, Number.isNaN(reconciled) ? 0 : reconciled)
}
