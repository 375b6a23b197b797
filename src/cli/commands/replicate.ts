/** `replicate`: the outbox drained and the copies reconciled, once or as a service (`--watch`). */
import { setTimeout as sleep } from 'node:timers/promises'
import { foreignWriteCopied } from '../../features/replication/foreign-writes.js'
import { partsOf } from '../../features/replication/parts.js'
import {
  PrimaryWatcher,
  readWatchHealth,
  type ReplicatedStorage,
  type WatchHealth
} from '../../features/replication/index.js'
import { watcherState } from '../../features/replication/watch-health.js'
import { plural, storeLine, UsageError, type Command, type Context } from '../context.js'
import { METRICS_OPTIONS, startMetrics } from '../metrics-server.js'
import { DURATION_UNITS, parseDuration } from '../units.js'
import { failing, replicated } from './replication.js'

export const replicate: Command = {
  name: 'replicate',
  usage:
    'replicate [--watch] [--reconcile-every 24h] [--watch-every 5s] [--watch-folders N] ' +
    '[--metrics-port N | --metrics-address host:port] [--no-reconcile] [--wait] | replicate --health',
  summary: 'copy what the outbox holds to the replicas, then reconcile',
  help:
    'Drains the outbox (every store records there what remains to copy), then reconciles: the\n' +
    'listings of every copy compared, what a replica lacks queued and copied (no request per\n' +
    'object). --watch keeps doing it as a service (see examples/systemd), reconciling at start and\n' +
    'every --reconcile-every, and finds within --watch-every (5 s) the frames other processes put\n' +
    'into the primary (storage.py, rsync, a rename), which no outbox names: by one inotifywait child\n' +
    '(Debian package inotify-tools) watching the layout if installed, else by a stat of every shard\n' +
    "folder each --watch-every; --watch-folders N takes Node's own inotify watches on N folders\n" +
    'instead (0: stat passes only; see docs/replication.md). Ctrl-C stops it (exit 130), SIGTERM\n' +
    'too (exit 0: a service stopped as asked). Exit 1 if something is left, or a frame is lost.\n' +
    'One copier at a time: while another (a --watch service) holds the lock, exit 75 and say which\n' +
    'process, or with --wait wait for it.\n' +
    '--health answers for a monitor: exit 0 if the watcher passed within 3 --watch-every + 10 s,\n' +
    'runs and can read every folder, else 1 (stale; stopped: by SIGTERM or Ctrl-C, or its process\n' +
    'gone on this host; or failing).\n' +
    '--metrics-port N serves Prometheus metrics at http://127.0.0.1:N/metrics (loopback only);\n' +
    '--metrics-address host:port listens elsewhere (0.0.0.0:9465). Needs prom-client; see\n' +
    'docs/observability.md and examples/grafana.\n' +
    `Durations: ${DURATION_UNITS}.`,
  options: {
    watch: { type: 'boolean' },
    'reconcile-every': { type: 'string' },
    'no-reconcile': { type: 'boolean' },
    'watch-every': { type: 'string' },
    'watch-folders': { type: 'string' },
    health: { type: 'boolean' },
    wait: { type: 'boolean' },
    ...METRICS_OPTIONS
  },
  async run(cli) {
    const every = parseDuration(cli.string('reconcile-every') ?? '24h', '--reconcile-every')
    const storage = await replicated(cli)
    if (cli.flags.health === true) return health(cli, storage)
    const metrics = await startMetrics(cli, storage)
    let terminated = false
    process.once('SIGTERM', () => {
      terminated = true
    })
    const stop = cli.stopSignal()
    // started before the first reconcile: what lands while it lists is found too
    const watcher = cli.flags.watch === true && storage.root !== undefined ? watcherOf(cli, storage) : undefined
    // every verified copy this process made: the drains', and the background's of the frames the watcher found
    let copied = 0
    const count = (): void => {
      copied++
    }
    partsOf(storage).copier.copied.add(count)
    watcher?.start()
    const done = await copyRounds(cli, storage, { every, stop, metrics })
    await watcher?.stop()
    partsOf(storage).copier.copied.delete(count)
    await metrics?.close()
    if (done.busy) return busy(cli, storage, done.heldBy)
    const { lost } = done
    const status = storage.status()
    const pending = status.replicas.reduce((sum, r) => sum + r.pending, 0)
    cli.out(
      `replicate ${stop.aborted ? 'stopped' : 'complete'}: ` +
        `${plural(copied, 'copy', 'copies')} made, ${pending} pending` +
        status.replicas.map(r => `\n  ${r.name}: ${r.pending} pending${failing(r, ', ')}`).join('') +
        (lost === 0
          ? ''
          : `\n${plural(lost, 'frame')} LOST: evicted from the primary and on no replica; ` +
            'run sai-images verify, restore from a backup') +
        `\n${storeLine(storage)}`,
      { command: 'replicate', copied, pending, lost, status, store: storage.location }
    )
    if (stop.aborted) return terminated ? 0 : 130
    return pending > 0 || lost > 0 ? 1 : 0
  }
}

function watcherOf(cli: Context, storage: ReplicatedStorage): PrimaryWatcher {
  return new PrimaryWatcher(storage, {
    everyMs: parseDuration(cli.string('watch-every') ?? '5s', '--watch-every'),
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
): Promise<{ lost: number; busy?: false } | { busy: true; heldBy?: number }> {
  let [lastReconcile, lost] = [0, 0]
  for (;;) {
    const drained = await storage.drain({ signal: stop })
    if (drained.busy && cli.flags.wait === true && !stop.aborted) {
      await sleep(1000, undefined, { signal: stop }).catch(() => {})
      continue
    }
    if (drained.busy && cli.flags.watch !== true) return { busy: true, heldBy: drained.heldBy }
    if (cli.flags['no-reconcile'] !== true && Date.now() - lastReconcile >= every && !stop.aborted) {
      const started = Date.now()
      const report = await storage.reconcile({ signal: stop })
      lastReconcile = Date.now()
      await metrics?.reconciled(lastReconcile - started, stop)
      lost = report.lost
      cli.note(reconcileNote(report))
      await storage.drain({ signal: stop })
    }
    if (cli.flags.watch !== true || stop.aborted) return { lost }
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
      : `; ${plural(report.lost, 'frame')} LOST (evicted, and no replica holds a copy: see sai-images verify)`
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
