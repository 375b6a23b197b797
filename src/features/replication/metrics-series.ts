/**
 * The series of the replication service's metrics (metrics.ts wires them): their names, help texts and labels,
 * each family made by one function. docs/observability.md lists every series.
 */
import type * as PromClient from 'prom-client'

export const METRICS_PREFIX = 'sai_image_storage_replication_'

export type Define = ReturnType<typeof definer>

/** Makers of this service's series, in one registry, named with the prefix. */
export function definer(prom: typeof PromClient, registry: PromClient.Registry) {
  const registers = [registry]
  return {
    gauge: (name: string, help: string, labelNames: string[] = []): PromClient.Gauge =>
      new prom.Gauge({ name: METRICS_PREFIX + name, help, labelNames, registers }),
    counter: (name: string, help: string, labelNames: string[] = []): PromClient.Counter =>
      new prom.Counter({ name: METRICS_PREFIX + name, help, labelNames, registers }),
    histogram: (name: string, help: string, labelNames: string[], buckets: number[]): PromClient.Histogram =>
      new prom.Histogram({ name: METRICS_PREFIX + name, help, labelNames, buckets, registers })
  }
}

/** The outbox and the replicas' failing state (gauges, read at each scrape). */
export function outboxSeries({ gauge }: Define) {
  return {
    pending: gauge('pending', 'Objects waiting in the outbox to be copied to the replica', ['replica']),
    oldest: gauge('oldest_pending_age_seconds', 'Age of the oldest object waiting for the replica (0: none waits)', [
      'replica'
    ]),
    failing: gauge('replica_failing', '1 while the replica cannot be reached (the copier backs off), else 0', [
      'replica'
    ]),
    failingSince: gauge(
      'replica_failing_since_timestamp_seconds',
      'Since when the replica fails (no sample while it works)',
      ['replica']
    )
  }
}

/** This process' copies and every process' heals (counters), and the foreign writes' latency. */
export function copySeries({ counter, histogram }: Define) {
  return {
    copies: counter('copies_total', 'Copies made by this process and verified by the replica', ['replica']),
    failures: counter(
      'copy_failures_total',
      'Copies that failed, by stable error code (an unreachable replica: once per round)',
      ['replica', 'code']
    ),
    bytes: counter('copied_bytes_total', 'Bytes of the copies made by this process', ['replica']),
    heals: counter('heals_total', 'Primary copies rewritten from a good replica copy, by every process (the heal log)'),
    foreign: histogram(
      'foreign_write_to_copy_seconds',
      'From a write by another program on the primary to its first verified copy on the replica',
      ['replica'],
      [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]
    )
  }
}

/** What the last reconcile (and the lost-frame scan) found. */
export function scanSeries({ gauge }: Define) {
  return {
    below: gauge(
      'below_wanted_copies',
      'Objects with fewer copies than wanted at the last scan, less those copied since'
    ),
    lost: gauge(
      'lost_frames',
      'Frames with no good copy left: at the last whole scan, or quarantined (the larger count)'
    ),
    lastAt: gauge('last_reconcile_timestamp_seconds', 'When the last reconcile (of any process) began; 0 before one'),
    lastDuration: gauge('last_reconcile_duration_seconds', 'How long the last reconcile of this process took'),
    primaryObjects: gauge('last_reconcile_primary_objects', 'Objects on the primary, at the last reconcile'),
    found: gauge('last_reconcile_objects', 'What the last reconcile found on each replica, by finding', [
      'replica',
      'finding'
    ])
  }
}

/** The watcher of other programs' frames, from its `watch.json` (written after each pass; none without a watcher). */
export function watchSeries({ gauge }: Define) {
  return {
    watchFailing: gauge(
      'watch_failing',
      "1 while the watcher's passes cannot read a folder of the primary (its frames are not queued), else 0"
    ),
    watchFailingSince: gauge(
      'watch_failing_since_timestamp_seconds',
      'Since when the watcher cannot read a folder, by error code (no sample while it reads every one)',
      ['code']
    ),
    caughtUp: gauge(
      'watch_caught_up_timestamp_seconds',
      'Every frame written into the primary before this was seen by the watcher (queued, or held); 0 before a pass'
    )
  }
}

export type Series = ReturnType<typeof copySeries> &
  ReturnType<typeof outboxSeries> &
  ReturnType<typeof scanSeries> &
  ReturnType<typeof watchSeries>
