/**
 * `watch.json` in the state folder (layout.ts), rewritten after each pass of the watcher: the
 * health a monitor reads, and where the next watcher (after a restart, even a SIGKILL) or `status`
 * starts looking.
 */
import { hostname } from 'node:os'
import { alive } from '../../core/process-identity.js'
import { readRecord, writeRecordSync } from './records.js'
import { StateLayout } from './layout.js'
import type { ReconcileReport } from './types.js'
import type { WatchFailing } from './watch-progress.js'

/** `watch.json` in the state folder, rewritten after each pass. */
export interface WatchHealth {
  pid: number
  /** When the last pass ended (ISO). A monitor alarms when it is older than a few `everyMs`. */
  at: string
  everyMs: number
  /** Every frame renamed into place before this (ISO) was queued or held verified by then. */
  caughtUpTo: string
  folders: number
  /**
   * How frames of other writers are found: `inotifywait` (one child watching the layout), `fs.watch`
   * (`--watch-folders N`), or `stat` (every folder stat'ed each pass: inotifywait missing, or refused).
   */
  mechanism?: 'inotifywait' | 'fs.watch' | 'stat'
  /** Of the folders, watched by inotify (the others are stat'ed every pass). */
  watched?: number
  /** Frames this watcher queued since it started, and when the last one was. */
  queued: number
  lastQueuedAt?: string
  /**
   * While its passes cannot read a shard folder (EACCES, EIO): since when, which (`ab/cd`; `.`: the root), the
   * error. Frames there are not queued, and `caughtUpTo` stays put, until a pass reads it.
   */
  failing?: WatchFailing
  /** The host its process runs on: there `status` asks whether the process is still running. */
  hostname?: string
  /** When it was stopped (SIGTERM, Ctrl-C: `stop()`); absent while it runs. */
  stoppedAt?: string
}

/**
 * `live`: a pass within 3 × `everyMs` + 10 s (a pass may take a while), by a process still running;
 * `stale`: none since; `stopped`: it was stopped, or (on this host) its process is gone (a SIGKILL).
 */
export type WatcherState = 'live' | 'stale' | 'stopped'

export function watcherState(health: WatchHealth, now = Date.now()): WatcherState {
  if (health.stoppedAt !== undefined || gone(health)) return 'stopped'
  return now - Date.parse(health.at) < 3 * health.everyMs + 10_000 ? 'live' : 'stale'
}

/** Whether the watcher's process is known to have ended: on another host it cannot be asked. */
function gone({ pid, hostname: host }: WatchHealth): boolean {
  return host === hostname() && pid !== process.pid && !alive(pid)
}

/** The watcher's health after a pass (or its stop), with this process's id and host. */
export function writeWatchHealth(layout: StateLayout, health: Omit<WatchHealth, 'pid' | 'hostname'>): void {
  writeRecordSync(layout.watchHealth, { pid: process.pid, hostname: hostname(), ...health })
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
