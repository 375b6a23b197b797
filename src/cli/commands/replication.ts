/** Replication's commands: replicate (once or as a service), whereis, status, evict. */
import { setTimeout as sleep } from 'node:timers/promises'
import { ReplicatedStorage } from '../../features/replication/index.js'
import { minCopiesProblem } from '../../features/replication/evict.js'
import type { ImageStorage } from '../../core/types.js'
import { readRefFiles } from '../../features/retention/keep.js'
import { plural, storeLine, UsageError, type Command, type Context } from '../context.js'
import { METRICS_OPTIONS, startMetrics } from '../metrics-server.js'
import { formatBytes, parseDuration } from '../units.js'

function replicated (cli: Context): ReplicatedStorage {
  const storage: ImageStorage = cli.storage()
  if (!(storage instanceof ReplicatedStorage)) throw new UsageError('this store has no replicas: name them with SAI_IMAGE_STORAGE_REPLICAS (s3, ipfs or fs) and their own settings')
  return storage
}

/** Since when a replica fails, and how, after `separator`; nothing if it does not. */
function failing (replica: { failing?: { since: Date, code: string } }, separator: string): string {
  return replica.failing === undefined ? '' : `${separator}failing since ${replica.failing.since.toISOString()} (${replica.failing.code})`
}

export const replicate: Command = {
  name: 'replicate',
  usage: 'replicate [--watch [--reconcile-every 24h] [--metrics-port N | --metrics-address host:port]] [--no-reconcile]',
  summary: 'copy what the outbox holds to the replicas, then reconcile',
  help: 'Drains the outbox (every store records there what remains to copy), then reconciles: the\n' +
    'listings of every copy compared, what a replica lacks queued and copied (no request per\n' +
    'object). --watch keeps doing it as a service (see examples/systemd), reconciling at start and\n' +
    'every --reconcile-every; Ctrl-C or SIGTERM stops it cleanly. Exit 1 if something is left.\n' +
    '--metrics-port N serves Prometheus metrics at http://127.0.0.1:N/metrics (loopback only);\n' +
    '--metrics-address host:port listens elsewhere (0.0.0.0:9465). Needs prom-client; see\n' +
    'docs/observability.md and examples/grafana.',
  options: { watch: { type: 'boolean' }, 'reconcile-every': { type: 'string' }, 'no-reconcile': { type: 'boolean' }, ...METRICS_OPTIONS },
  async run (cli) {
    const storage = replicated(cli)
    const metrics = await startMetrics(cli, storage)
    const stop = cli.stopSignal()
    const every = parseDuration(cli.string('reconcile-every') ?? '24h', '--reconcile-every')
    const reconciling = cli.flags['no-reconcile'] !== true
    let lastReconcile = 0
    let copied = 0
    for (;;) {
      const drained = await storage.drain({ signal: stop })
      copied += drained.copied
      if (reconciling && Date.now() - lastReconcile >= every && !stop.aborted) {
        const started = Date.now()
        const report = await storage.reconcile({ signal: stop })
        lastReconcile = Date.now()
        await metrics?.reconciled(lastReconcile - started, stop)
        cli.note(`reconcile: ${report.primary} on the primary; ${report.replicas.map(r => `${r.name}: ${r.missing + r.mismatched} queued, ${r.evicted} evicted, ${r.extra} extra`).join('; ')}`)
        copied += (await storage.drain({ signal: stop })).copied
      }
      if (cli.flags.watch !== true || stop.aborted) break
      await sleep(1000, undefined, { signal: stop }).catch(() => {}) // woken by Ctrl-C or SIGTERM
    }
    await metrics?.close()
    const status = storage.status()
    const pending = status.replicas.reduce((sum, r) => sum + r.pending, 0)
    cli.out(`replicate ${stop.aborted ? 'stopped' : 'complete'}: ${plural(copied, 'copy', 'copies')} made, ${pending} pending` +
      status.replicas.map(r => `\n  ${r.name}: ${r.pending} pending${failing(r, ', ')}`).join('') +
      `\n${storeLine(storage)}`, { command: 'replicate', copied, pending, status, store: storage.location })
    return stop.aborted ? 130 : pending > 0 ? 1 : 0
  }
}

export const whereis: Command = {
  name: 'whereis',
  usage: 'whereis <ref>',
  summary: 'each copy of an object: present or missing, and when verified',
  async run (cli) {
    const storage = replicated(cli)
    const where = await storage.whereis(cli.arg(0, 'ref'))
    const rows = where.copies.map(c => `  ${c.name.padEnd(10)} ${c.present ? 'present' : c.evictedAt !== undefined ? `evicted ${c.evictedAt.toISOString()}` : 'MISSING'}` +
      `${c.size === undefined ? '' : ` ${c.size} bytes`}${c.verifiedAt === undefined ? '' : `, verified ${c.verifiedAt.toISOString()} (${c.how})`}`)
    cli.out(`${where.sha256}\n${rows.join('\n')}\n${storeLine(storage)}`, { ...where, store: storage.location })
    return where.copies.some(c => c.present) ? 0 : 1
  }
}

export const status: Command = {
  name: 'status',
  usage: 'status',
  summary: 'replication: the backlog, the last reconcile, heals',
  async run (cli) {
    const storage = replicated(cli)
    const s = storage.status()
    cli.out(s.replicas.map(r => `${r.name}: ${r.pending} pending${r.oldestPendingAt === undefined ? '' : ` (oldest since ${r.oldestPendingAt.toISOString()})`}` +
      `${failing(r, '; ')}`).join('\n') +
      `\nlast reconcile: ${s.lastReconcileAt?.toISOString() ?? 'never'}${s.belowWantedCopies === undefined ? '' : `; ${plural(s.belowWantedCopies, 'object')} below the wanted copies then`}` +
      `\nheals: ${s.heals.healed}${s.heals.lastAt === undefined ? '' : ` (last ${s.heals.lastAt.toISOString()})`}\n${storeLine(storage)}`, { ...s, store: storage.location })
    return 0
  }
}

export const evict: Command = {
  name: 'evict',
  usage: 'evict --older-than 30d [--min-copies N] [--keep-file F]... [--dry-run]',
  summary: 'free the primary of old frames the replicas verifiably hold',
  help: 'A primary copy goes only once --min-copies (default 1) replica copies were read back and\n' +
    'hashed in this same run; never the last copy, never one a store renews meanwhile. The frame is\n' +
    'still served (from a replica). --dry-run counts from the listings alone. Exit 1 if some old\n' +
    'frame had too few good replica copies (they are kept and queued to be copied again).',
  options: { 'older-than': { type: 'string' }, 'min-copies': { type: 'string' }, 'keep-file': { type: 'string', multiple: true }, 'dry-run': { type: 'boolean' } },
  async run (cli) {
    const olderThan = cli.string('older-than')
    if (olderThan === undefined) throw new UsageError('say which primary copies may go: --older-than 30d')
    const storage = replicated(cli)
    const keep = await readRefFiles(cli.strings('keep-file'))
    const minCopies = cli.string('min-copies') === undefined ? undefined : Number(cli.string('min-copies'))
    const names = storage.replicas.map(r => r.name)
    if (minCopies !== undefined && !(Number.isInteger(minCopies) && minCopies >= 1 && minCopies <= names.length)) throw new UsageError(`--min-copies ${cli.string('min-copies')}: ${minCopiesProblem(minCopies, names)}`)
    const report = await storage.evict({ olderThan: parseDuration(olderThan, '--older-than'), minCopies, keep, dryRun: cli.flags['dry-run'] === true, concurrency: cli.concurrency(), signal: cli.stopSignal() })
    const head = report.dryRun
      ? `dry run: would evict ${plural(report.wouldEvict ?? 0, 'primary copy', 'primary copies')} of ${report.examined}, freeing ${formatBytes(report.wouldFree ?? 0)}; nothing was deleted`
      : `evict ${report.interrupted ? 'interrupted' : 'complete'}: ${plural(report.evicted, 'primary copy', 'primary copies')} evicted of ${report.examined}, freed ${formatBytes(report.bytesFreed)}`
    cli.out(`${head}\nkept: ${report.kept} younger, ${report.protected} protected, ${report.renewed} stored again meanwhile, ${report.unsafe} without enough good replica copies` +
      report.unsafeObjects.slice(0, 20).map(u => `\n  ${u.sha256}: ${Object.entries(u.copies).map(([name, why]) => `${name} ${why}`).join(', ')}`).join('') + `\n${storeLine(storage)}`, { command: 'evict', ...report, store: storage.location })
    return report.interrupted ? 130 : report.unsafe > 0 ? 1 : 0
  }
}
