/** `replicate`: the outbox drained and the copies reconciled, once or as a service (`--watch`). */
import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigError } from '../../core/errors.js'
import { failureFields } from '../../core/logger.js'
import { foreignWriteCopied } from '../../features/replication/foreign-writes.js'
import { partsOf } from '../../features/replication/parts.js'
import {
  PrimaryWatcher,
  readWatchHealth,
  type ReplicatedStorage,
  type WatchHealth
} from '../../features/replication/index.js'
import { watcherState } from '../../features/replication/watch-health.js'
import type { DrainReport } from '../../features/replication/types.js'
import { plural, storeLine, UsageError, type Context } from '../context.js'
import { startMetrics } from '../metrics-server.js'
import { parseDuration } from '../units.js'
import { failedCopies, failing, replicated } from './replication.js'

export async function replicate(cli: Context): Promise<number> {
  const every = parseDuration(cli.string('reconcile-every') ?? '24h', '--reconcile-every')
  if (every < 1000) throw new UsageError('--reconcile-every takes 1s or more: each reconcile lists every copy')
  const storage = await replicated(cli)
  refuseUnused(cli, storage.root !== undefined)
  if (cli.flags.health === true) return health(cli, storage)
  // its options checked before the metrics server listens (a usage error must not leave it serving)
  const watcher = cli.flags.watch === true && storage.root !== undefined ? watcherOf(cli, storage) : undefined
  const metrics = await startMetrics(cli, storage)
  let terminated = false
  process.once('SIGTERM', () => {
    terminated = true
  })
  const stop = cli.stopSignal()
  // every verified copy this process made: the drains', and the background's of the frames the watcher found
  let copied = 0
  const count = (): void => {
    copied++
  }
  partsOf(storage).copier.copied.add(count)
  watcher?.start() // before the first reconcile: what lands while it lists is found too
  // whatever ends the rounds (a refusal: exit 6), the watcher's timers and the metrics server end too, else the
  // process would stay up, copying nothing, with a healthy watch.json and scrape
  const done = await copyRounds(cli, storage, { every, stop, metrics }).finally(async () => {
    await watcher?.stop()
    partsOf(storage).copier.copied.delete(count)
    await metrics?.close()
  })
  if (done.busy) return busy(cli, storage, done.heldBy)
  const { lost, failed } = done
  const status = storage.status()
  const pending = status.replicas.reduce((sum, r) => sum + r.pending, 0)
  cli.out(
    `replicate ${stop.aborted ? 'stopped' : 'complete'}: ` +
      `${plural(copied, 'copy', 'copies')} made, ${pending} pending` +
      status.replicas.map(r => `\n  ${r.name}: ${r.pending} pending${failing(r, ', ')}`).join('') +
      failedCopies(failed) +
      (lost === 0
        ? ''
        : `\n${plural(lost, 'frame')} LOST: known to the ledger and on no copy; ` +
          'run sai-images verify, restore from a backup') +
      `\n${storeLine(storage)}`,
    { command: 'replicate', copied, pending, lost, failed, status, store: storage.location }
  )
  if (stop.aborted) return terminated ? 0 : 130
  return pending > 0 || lost > 0 ? 1 : 0
}

/** Flags that would do nothing here are refused: the service's without --watch, anything beside --health. */
function refuseUnused(cli: Context, localPrimary: boolean): void {
  const given = (names: string[]): string[] => names.filter(name => cli.flags[name] !== undefined).map(n => `--${n}`)
  const service = given(['reconcile-every', 'watch-every', 'watch-folders']) // (metrics-server.ts says its own)
  const beside = given(['watch', 'wait', 'no-reconcile', 'concurrency', 'metrics-port', 'metrics-address'])
  if (cli.flags.health === true && service.length + beside.length > 0)
    throw new UsageError(
      `--health reads the service's state and does nothing else: not with ${[...beside, ...service]}`
    )
  if (cli.flags.watch !== true && service.length > 0) throw new UsageError(`${service.join(', ')} need --watch`)
  if (cli.flags['no-reconcile'] === true && cli.flags['reconcile-every'] !== undefined)
    throw new UsageError('--reconcile-every and --no-reconcile contradict each other')
  const folders = given(['watch-every', 'watch-folders'])
  if (!localPrimary && folders.length > 0)
    throw new UsageError(`${folders.join(', ')} watch a filesystem primary's folders; this primary has none`)
}

function watcherOf(cli: Context, storage: ReplicatedStorage): PrimaryWatcher {
  const everyMs = parseDuration(cli.string('watch-every') ?? '5s', '--watch-every')
  if (everyMs < 100) throw new UsageError('--watch-every takes 0.1s or more: each pass stats every shard folder')
  return new PrimaryWatcher(storage, {
    everyMs,
    maxWatches: watchFolders(cli.string('watch-folders')),
    // a foreign write's first verified copy: the metrics' histogram (free without --metrics-*)
    onCopied: (_sha256, seconds, replica) => {
      foreignWriteCopied(replica, Date.now() - seconds * 1000)
    }
  })
}

function watchFolders(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value)) throw new UsageError(`--watch-folders: expected a count of folders, got ${value}`)
  return Number(value)
}

/** A failed reconcile of the service is tried again this soon (or at `--reconcile-every`, if sooner). */
const RECONCILE_RETRY_MS = 5 * 60_000

/** Copies that failed for one frame (a bad entry under its name): it stays pending, the others are copied. */
type Failed = DrainReport['failed']

interface Rounds {
  /** Reconcile at most this often (ms). */
  every: number
  stop: AbortSignal
  metrics: Awaited<ReturnType<typeof startMetrics>>
}

/**
 * Drains, and reconciles when it is time, once or (--watch) until stopped; ends early when another
 * copier holds the lock (unless --wait or --watch).
 */
async function copyRounds(
  cli: Context,
  storage: ReplicatedStorage,
  { every, stop, metrics }: Rounds
): Promise<{ lost: number; failed: Failed; busy?: false } | { busy: true; heldBy?: number }> {
  let [lastReconcile, lost] = [0, 0]
  let failed: Failed = [] // the last round's: the frames whose copy failed and still pend
  for (;;) {
    // the service's rounds wait out a down replica's backoff; a run by hand tries it now
    const drained = await storage.drain({ signal: stop, backoff: cli.flags.watch === true })
    failed = drained.failed
    if (drained.busy && cli.flags.wait === true && !stop.aborted) {
      await sleep(1000, undefined, { signal: stop }).catch(() => {})
      continue
    }
    if (drained.busy && cli.flags.watch !== true) return { busy: true, heldBy: drained.heldBy }
    if (cli.flags['no-reconcile'] !== true && Date.now() - lastReconcile >= every && !stop.aborted) {
      const started = Date.now()
      const report = await storage.reconcile({ signal: stop }).catch((err: unknown) => {
        if (stop.aborted) return // stopped under way (SIGTERM, Ctrl-C): the summary says so, and its exit
        // a service outlives a replica down at its reconcile (not a refusal): it copies on, and tries again soon
        if (cli.flags.watch !== true || err instanceof ConfigError) throw err
        const retry = Math.min(every, RECONCILE_RETRY_MS)
        lastReconcile = Date.now() - every + retry
        const { code, error } = failureFields(err)
        cli.note(`reconcile failed: ${code}: ${error}; next try in ${Math.round(retry / 1000)} s`)
      })
      if (report !== undefined) {
        lastReconcile = Date.now()
        await metrics?.reconciled(lastReconcile - started, stop)
        lost = report.lost
        cli.note(reconcileNote(report))
        const again = (await storage.drain({ signal: stop })).failed // (a frame failed in both drains: said once)
        failed = [...failed.filter(f => !again.some(a => a.sha256 === f.sha256 && a.replica === f.replica)), ...again]
      }
    }
    if (cli.flags.watch !== true || stop.aborted) return { lost, failed }
    await sleep(1000, undefined, { signal: stop }).catch(() => {}) // woken by Ctrl-C or SIGTERM
  }
}

function reconcileNote(report: Awaited<ReturnType<ReplicatedStorage['reconcile']>>): string {
  const replicas = report.replicas.map(
    r => `${r.name}: ${r.missing + r.mismatched} queued, ${r.evicted} evicted, ${r.extra} extra`
  )
  const lost =
    report.lost === 0
      ? ''
      : `; ${plural(report.lost, 'frame')} LOST (known to the ledger, and no copy holds it: see sai-images verify)`
  return `reconcile: ${report.primary} on the primary; ${replicas.join('; ')}${lost}`
}

/** Another copier holds the lock: say which, and what to do; exit 75 (EX_TEMPFAIL: try again later). */
function busy(cli: Context, storage: ReplicatedStorage, heldBy: number | undefined): number {
  const who = heldBy === undefined ? 'another process' : `process ${heldBy}`
  const pending = storage.status().replicas.reduce((sum, r) => sum + r.pending, 0)
  cli.out(
    `replicate: nothing copied here: ${who} holds the copier's lock and is copying now (${pending} pending); ` +
      'run again later, or with --wait to wait for it\n' +
      storeLine(storage),
    { command: 'replicate', copied: 0, pending, busy: true, heldBy, store: storage.location }
  )
  return 75
}

/** `replicate --health`: the watcher's last pass, for a monitor (exit 0 recent, 1 stale, stopped, failing or none). */
function health(cli: Context, storage: ReplicatedStorage): number {
  const last = readWatchHealth(storage.stateDir)
  const age = last === undefined ? undefined : Date.now() - Date.parse(last.at)
  const state = last === undefined ? undefined : watcherState(last)
  const live = state === 'live'
  const said = state === 'stopped' ? `stopped${last!.stoppedAt === undefined ? ' (its process is gone)' : ''}` : state
  cli.out(
    last === undefined
      ? 'watcher: never ran on this store (replicate --watch writes its health after each pass)'
      : `watcher: ${state === 'stale' ? 'STALE' : said}, last pass ${Math.round(age! / 1000)} s ago ` +
          `(every ${last.everyMs / 1000} s, pid ${last.pid}` +
          `${last.mechanism === undefined ? '' : `, by ${last.mechanism}`}); ` +
          `${plural(last.queued, 'frame')} from other writers queued since it started` +
          failingLine(last.failing),
    { command: 'replicate', live, state: state ?? null, watcher: last ?? null }
  )
  return live && last?.failing === undefined ? 0 : 1
}

/** A folder the watcher's passes cannot read: its frames are not queued. */
function failingLine(failing: WatchHealth['failing']): string {
  return failing === undefined
    ? ''
    : `\nFAILING since ${failing.since}: cannot read the primary's folder ${failing.folder} (${failing.message}); ` +
        'frames there are not queued'
}
