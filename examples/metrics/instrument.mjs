// Prometheus metrics for sai-image-storage, from its tracing channels: the library publishes, the
// application counts (prom-client's registry stays the application's, as its maintainers advise).
//
//   import { Registry } from 'prom-client'
//   const registry = new Registry()
//   const stop = instrumentImageStorage({ registry, storage })   // storage: for the replication backlog
//
// Spans end on asyncEnd: every start is followed by exactly one asyncEnd, after `error` when the
// operation failed, so the latency of failures is measured too and no span is left open.
import { tracingChannel } from 'node:diagnostics_channel'
import { Counter, Gauge, Histogram } from 'prom-client'
import { TRACING_CHANNELS } from 'sai-image-storage'

/** The operations of a driver: their latency is observed by operation and driver. */
const TIMED = [
  'store',
  'fetch',
  'fetchStream',
  'stat',
  'delete',
  'list',
  'verify',
  'variant',
  'prune',
  'replicate',
  'heal'
]

export function instrumentImageStorage({ registry, storage, prefix = 'sai_image_storage_' }) {
  const registers = [registry]
  const duration = new Histogram({
    name: `${prefix}operation_duration_seconds`,
    help: 'Time from the start of an operation to its end (fetchStream: until the stream is handed over)',
    labelNames: ['operation', 'driver'],
    // a durable store of a 600 KB frame on a local disk takes a few ms; S3 and IPFS, tens
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers
  })
  const stores = new Counter({
    name: `${prefix}stores_total`,
    help: 'Stores that succeeded, by whether the image was there already',
    labelNames: ['driver', 'duplicate'],
    registers
  })
  const storedBytes = new Counter({
    name: `${prefix}stored_bytes_total`,
    help: 'Bytes of new images stored (duplicates add none)',
    labelNames: ['driver'],
    registers
  })
  const errors = new Counter({
    name: `${prefix}errors_total`,
    help: 'Failed operations, by their stable code (ERR_NOT_FOUND, ERR_STORAGE_UNAVAILABLE, ...)',
    labelNames: ['operation', 'driver', 'code'],
    registers
  })

  const started = new WeakMap()
  const unsubscribe = []
  for (const operation of TIMED) {
    const handlers = {
      start(context) {
        started.set(context, process.hrtime.bigint())
      },
      end() {},
      asyncStart() {},
      asyncEnd(context) {
        const from = started.get(context)
        if (from !== undefined)
          duration.observe({ operation, driver: context.driver }, Number(process.hrtime.bigint() - from) / 1e9)
        if (operation === 'store' && context.error === undefined) {
          stores.inc({ driver: context.driver, duplicate: String(context.result?.isDuplicate === true) })
          if (context.result?.isDuplicate === false)
            storedBytes.inc({ driver: context.driver }, context.result.size ?? 0)
        }
      },
      error(context) {
        errors.inc({ operation, driver: context.driver, code: context.code ?? 'ERR_UNKNOWN' })
      }
    }
    const channel = tracingChannel(TRACING_CHANNELS[operation])
    channel.subscribe(handlers)
    unsubscribe.push(() => channel.unsubscribe(handlers))
  }

  // The replication backlog, read from status() at each scrape, when the storage has one.
  if (typeof storage?.status === 'function') replicationGauges({ registry, storage, prefix })
  return () => {
    for (const stop of unsubscribe) stop()
  }
}

/**
 * Gauges from `status()`: `{ replicas: [{ name, pending, oldestPendingAt? }], lastReconcileAt?,
 * belowWantedCopies?, heals?: { healed } }` (a failed heal is logged: `replication.heal-failed`).
 * A field that is absent gives no sample; a status() that fails gives none (and counts the failure).
 */
function replicationGauges({ registry, storage, prefix }) {
  const registers = [registry]
  const gauge = (name, help, labelNames = ['replica']) =>
    new Gauge({ name: `${prefix}${name}`, help, labelNames, registers })
  const pending = gauge('replication_pending', 'Objects waiting to be copied to the replica')
  const oldest = gauge(
    'replication_oldest_pending_age_seconds',
    'Age of the oldest object waiting for the replica (0: none waits)'
  )
  const lastReconcile = gauge(
    'replication_last_reconcile_timestamp_seconds',
    'When the last reconcile ended (replica "*": the store\'s)'
  )
  const below = gauge(
    'replication_below_wanted_copies',
    'Objects with fewer copies than wanted at the last reconcile (replica "*": the store\'s)'
  )
  const heals = gauge(
    'replication_heals',
    'Objects healed from a good copy since the state was made (outcome "healed")',
    ['outcome']
  )
  const failures = new Counter({
    name: `${prefix}replication_status_errors_total`,
    help: 'Scrapes whose status() failed',
    registers
  })
  const seconds = date =>
    date instanceof Date ? date.getTime() / 1000 : typeof date === 'string' ? Date.parse(date) / 1000 : undefined
  const count = value => (typeof value === 'boolean' ? Number(value) : typeof value === 'number' ? value : undefined)
  const set = (metric, labels, value) => {
    if (value !== undefined && !Number.isNaN(value)) metric.set(labels, value)
  }

  // one status() per scrape, shared by the gauges (prom-client awaits each metric's collect)
  let scrape
  const collect = async () => {
    scrape ??= (async () => {
      for (const metric of [pending, oldest, lastReconcile, below, heals]) metric.reset()
      let status
      try {
        status = await storage.status()
      } catch {
        failures.inc()
        return
      }
      const now = Date.now() / 1000
      for (const replica of status?.replicas ?? []) {
        const labels = { replica: replica.name }
        set(pending, labels, count(replica.pending))
        if (count(replica.pending) !== undefined)
          set(
            oldest,
            labels,
            count(replica.pending) > 0 && seconds(replica.oldestPendingAt) !== undefined
              ? Math.max(0, now - seconds(replica.oldestPendingAt))
              : 0
          )
      }
      set(lastReconcile, { replica: '*' }, seconds(status?.lastReconcileAt))
      set(below, { replica: '*' }, count(status?.belowWantedCopies))
      set(heals, { outcome: 'healed' }, count(status?.heals?.healed))
    })().finally(() => {
      setImmediate(() => {
        scrape = undefined
      })
    })
    await scrape
  }
  for (const metric of [pending, oldest, lastReconcile, below, heals]) metric.collect = collect
}
