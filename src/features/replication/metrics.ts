/**
 * Prometheus metrics of the replication service (`sai-images replicate --watch --metrics-port`),
 * with prom-client, an optional peer loaded on first use. Counters come from this process' work
 * (the `replicate` tracing channel, the foreign-write hook); gauges are read from `status()` (the
 * outbox, the last reconcile, the failing state, the heal log: shared by every process) at each
 * scrape. Labels are bounded: a replica's name (validated, from the configuration) and an error's
 * stable code; never a path, a ref or a credential. docs/observability.md lists every series.
 */
import { channel, tracingChannel } from 'node:diagnostics_channel'
import type * as PromClient from 'prom-client'
import { optionalPeer } from '../../core/optional-peer.js'
import { TRACING_CHANNELS, type TraceContext } from '../../core/tracing.js'
import type { AbortOptions } from '../../core/types.js'
import { FOREIGN_WRITE_CHANNEL, type ForeignWriteCopied } from './foreign-writes.js'
import type { StateLayout } from './layout.js'
import { copySeries, definer, outboxSeries, scanSeries, type Series, watchSeries } from './metrics-series.js'
import { partsOf } from './parts.js'
import { readRecord } from './records.js'
import type { ReplicatedStorage } from './storage.js'
import type { ReplicationStatus } from './types.js'
import type { WatchHealth } from './watch-health.js'

const loadPromClient = optionalPeer<typeof PromClient>({
  neededBy: 'the metrics of replicate --watch',
  setting: '--metrics-port',
  install: 'prom-client@15',
  load: async () => await import('prom-client'),
  require: () => require('prom-client')
})

const FINDINGS = ['present', 'missing', 'mismatched', 'evicted', 'extra'] as const
/** An error code as a label: ours, an OS code, an abort; anything else is ERR_UNKNOWN (bounded). */
const CODE = /^(ERR_[A-Z0-9_]{1,40}|E[A-Z0-9]{2,20}|ABORT_ERR|TIMEOUT_ERR)$/

export interface ReplicationMetrics {
  readonly contentType: string
  /** Every series in Prometheus' text format, the gauges read now. */
  text: () => Promise<string>
  /** A reconcile of this process ended: its duration. */
  reconciled: (seconds: number) => void
  /** Counts the quarantined frames no copy holds: at start and after each reconcile (`lost_frames`: at least these). */
  scanLost: (options?: AbortOptions) => Promise<number>
  close: () => void
}

export async function createReplicationMetrics(storage: ReplicatedStorage): Promise<ReplicationMetrics> {
  const prom = await loadPromClient()
  const registry = new prom.Registry()
  const replicas = new Set(storage.replicas.map(r => r.name))
  const define = definer(prom, registry)
  const series = { ...outboxSeries(define), ...copySeries(define), ...scanSeries(define), ...watchSeries(define) }
  prom.collectDefaultMetrics({ register: registry })
  // gauges named like counters fail `promtool check metrics`; their counts by type stay (nodejs_active_handles{type})
  for (const name of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`nodejs_active_${name}_total`)
  for (const replica of replicas) {
    // every series from the start: rate() and alerts see them at once
    series.copies.inc({ replica }, 0)
    series.bytes.inc({ replica }, 0)
    series.foreign.zero({ replica })
  }
  const unsubscribe = subscribe(series, replicas)
  const { layout } = partsOf(storage)
  let quarantinedLost = 0
  return {
    contentType: registry.contentType,
    async text() {
      refresh(series, storage.status(), layout, quarantinedLost)
      return await registry.metrics()
    },
    reconciled(seconds) {
      series.lastDuration.set(seconds)
    },
    async scanLost(options = {}) {
      quarantinedLost = await countLost(storage, options.signal)
      return quarantinedLost
    },
    close: unsubscribe
  }
}

/** Counts the copies (the `replicate` tracing channel) and the foreign writes' latency; returns the unsubscribe. */
function subscribe({ copies, bytes, failures, foreign }: Series, replicas: Set<string>): () => void {
  const replicate = tracingChannel<unknown, TraceContext>(TRACING_CHANNELS.replicate)
  const handlers = {
    start() {},
    end() {},
    asyncStart() {},
    asyncEnd(context: TraceContext) {
      const replica = context.driver
      if (!replicas.has(replica) || context.error !== undefined || context.result?.outcome !== 'copied') return
      copies.inc({ replica })
      if (typeof context.result.size === 'number') bytes.inc({ replica }, context.result.size)
    },
    error(context: TraceContext) {
      const code = context.code ?? 'ERR_UNKNOWN'
      // an abort: stopped on purpose, or after another copy failed
      if (!replicas.has(context.driver) || code === 'ABORT_ERR') return
      failures.inc({ replica: context.driver, code: CODE.test(code) ? code : 'ERR_UNKNOWN' })
    }
  }
  replicate.subscribe(handlers)
  const foreignWrites = channel(FOREIGN_WRITE_CHANNEL)
  const onForeignWrite = (message: unknown): void => {
    const { replica, seconds } = message as ForeignWriteCopied
    if (replicas.has(replica) && Number.isFinite(seconds)) foreign.observe({ replica }, seconds)
  }
  foreignWrites.subscribe(onForeignWrite)
  return () => {
    replicate.unsubscribe(handlers)
    foreignWrites.unsubscribe(onForeignWrite)
  }
}

/**
 * The gauges set from `status()` (shared by every process) and the last reconcile's report. Lost: those the last
 * whole scan found (evicted, and no replica lists them) with those the copier found lost since, or the quarantined
 * ones no copy holds, whichever is more (a frame a `verify --repair` quarantined is in both).
 */
function refresh(series: Series, status: ReplicationStatus, layout: StateLayout, quarantinedLost: number): void {
  const { pending, oldest, failing, failingSince, found, heals, below, lost, lastAt, primaryObjects } = series
  const now = Date.now()
  for (const metric of [failingSince, found]) metric.reset()
  for (const r of status.replicas) {
    const replica = r.name
    pending.set({ replica }, r.pending)
    oldest.set(
      { replica },
      r.pending > 0 && r.oldestPendingAt !== undefined ? Math.max(0, (now - r.oldestPendingAt.getTime()) / 1000) : 0
    )
    failing.set({ replica }, r.failing === undefined ? 0 : 1)
    if (r.failing !== undefined) failingSince.set({ replica }, r.failing.since.getTime() / 1000)
    for (const finding of FINDINGS)
      if (r.lastReconcile !== undefined) found.set({ replica, finding }, r.lastReconcile[finding])
  }
  heals.reset()
  heals.inc(status.heals.healed)
  if (status.belowWantedCopies !== undefined) below.set(status.belowWantedCopies)
  lost.set(Math.max(quarantinedLost, (status.lost ?? 0) + (status.lostSince ?? 0)))
  if (status.lastReconcileAt !== undefined) lastAt.set(status.lastReconcileAt.getTime() / 1000)
  // the primary's object count (status() gives the replicas' findings)
  const primary = readRecord<{ primary?: unknown }>(layout.reconcileReport)?.primary
  if (typeof primary === 'number') primaryObjects.set(primary)
  refreshWatch(series, readRecord<WatchHealth>(layout.watchHealth))
}

/** The watcher's series from its last pass (`watch.json`): none until a watcher has written one. */
function refreshWatch({ watchFailing, watchFailingSince, caughtUp }: Series, health: WatchHealth | undefined): void {
  watchFailingSince.reset()
  if (health === undefined) return
  watchFailing.set(health.failing === undefined ? 0 : 1)
  const since = Date.parse(health.failing?.since ?? '')
  const code = health.failing?.code ?? ''
  if (Number.isFinite(since)) watchFailingSince.set({ code: CODE.test(code) ? code : 'ERR_UNKNOWN' }, since / 1000)
  const caught = Date.parse(health.caughtUpTo)
  if (Number.isFinite(caught)) caughtUp.set(caught / 1000)
}

/**
 * Frames lost: quarantined by a repair (not the `healed` leftovers of a heal), and held by no copy.
 * A copy that cannot be asked (a replica down) counts as holding it: an outage is no loss.
 */
async function countLost(storage: ReplicatedStorage, signal?: AbortSignal): Promise<number> {
  const quarantine = storage.primary.quarantine
  if (quarantine === undefined) return 0
  const seen = new Set<string>()
  let lost = 0
  for await (const entry of quarantine.list({ signal })) {
    if (entry.reason === 'healed' || seen.has(entry.sha256)) continue
    seen.add(entry.sha256)
    let held = false
    for (const copy of [storage.primary, ...storage.replicas.map(r => r.storage)]) {
      held = await copy.exists(entry.sha256, { signal }).catch(() => true)
      if (held) break
    }
    if (!held) lost++
  }
  return lost
}
