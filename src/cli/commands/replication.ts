/** Replication's commands: whereis, evict (replicate, the service: replicate.ts; status: status.ts). */
import { ConfigError } from '../../core/errors.js'
import { type DrainReport, ReplicatedStorage } from '../../features/replication/index.js'
import { minCopiesProblem } from '../../features/replication/evict.js'
import type { ImageStorage } from '../../core/types.js'
import { plural, storeLine, UsageError, wholeNumber, type Context } from '../context.js'
import { keepSet } from './prune.js'
import { formatBytes, parseDuration } from '../units.js'

export async function replicated(cli: Context): Promise<ReplicatedStorage> {
  const storage: ImageStorage = await cli.storage()
  if (!(storage instanceof ReplicatedStorage))
    throw new ConfigError(
      'SAI_IMAGE_STORAGE_REPLICAS',
      'not set: this store has no replicas (name them: s3, ipfs or fs, with their own settings)'
    )
  return storage
}

/** Since when a replica fails, and how, after `separator`; nothing if it does not. */
export function failing(replica: { failing?: { since: Date; code: string } }, separator: string): string {
  return replica.failing === undefined
    ? ''
    : `${separator}failing since ${replica.failing.since.toISOString()} (${replica.failing.code})`
}

export async function whereis(cli: Context): Promise<number> {
  const storage = await replicated(cli)
  const where = await storage.whereis(cli.arg(0, 'ref'))
  const rows = where.copies.map(c => {
    const state =
      c.damagedAt !== undefined
        ? `DAMAGED (a verify read it back on ${c.damagedAt.toISOString()})`
        : c.present
          ? 'present'
          : c.evictedAt !== undefined
            ? `evicted ${c.evictedAt.toISOString()}`
            : 'MISSING'
    // of a copy that is gone: when it was last seen whole, not a verification of its absence
    const seen = c.present ? 'verified' : 'last verified'
    const verified = c.verifiedAt === undefined ? '' : `, ${seen} ${c.verifiedAt.toISOString()} (${c.how})`
    return `  ${c.name.padEnd(10)} ${state}${c.size === undefined ? '' : ` ${c.size} bytes`}${verified}`
  })
  cli.out(`${where.sha256}\n${rows.join('\n')}\n${storeLine(storage)}`, { ...where, store: storage.location })
  return where.copies.some(c => c.present && c.damagedAt === undefined) ? 0 : 1
}

/**
 * `store` and `import` copy what they stored before they exit, rather than leave it to the outbox
 * (docs/replication.md); a line on stderr says so, and how many wait for the service if some do.
 */
export async function copyBeforeExit(cli: Context, storage: ImageStorage): Promise<void> {
  if (!(storage instanceof ReplicatedStorage)) return
  let drained: Pick<DrainReport, 'unavailable' | 'failed'> = { unavailable: [], failed: [] }
  if (storage.background) {
    await storage.idle() // the copies the stores started
    drained = await storage.drain()
  }
  const { unavailable, failed } = drained
  const replicas = storage.status().replicas
  const pending = replicas.reduce((sum, r) => sum + r.pending, 0)
  if (pending === 0) return cli.note('replication: every copy made before exit')
  // a replica that is down is the reason they wait: say so, with the copier's code and message
  const down = replicas.flatMap(r => {
    if (r.pending === 0 || r.failing === undefined) return []
    const failure = unavailable?.find(f => f.replica === r.name)
    const why = failure === undefined ? '' : `: ${failure.message.replace(/\.$/, '')}`
    return [`replica ${r.name} unreachable (${failure?.code ?? r.failing.code}${why})`]
  })
  cli.note(
    `replication: ${pending} pending${down.length === 0 ? '' : `: ${down.join('; ')}`}; ` +
      `\`sai-images replicate --watch\` (the service) copies ${pending === 1 ? 'it' : 'them'}` +
      (down.length === 0 ? '' : ' once the replica is back') +
      failedCopies(failed)
  )
}

/** The copies that failed for one frame each (a bad entry under its name), the first five: one line each. */
export function failedCopies(failed: DrainReport['failed']): string {
  return (
    failed
      .slice(0, 5)
      .map(f => `\n  copy to ${f.replica} failed: ${f.sha256}: ${f.code}: ${f.message}`)
      .join('') +
    (failed.length > 5
      ? `\n  … ${failed.length - 5} more copies failed (\`sai-images replicate --json\` lists them)`
      : '')
  )
}

export async function evict(cli: Context): Promise<number> {
  const given = cli.string('older-than')
  if (given === undefined) throw new UsageError('say which primary copies may go: --older-than 30d')
  const olderThan = parseDuration(given, '--older-than')
  const storage = await replicated(cli)
  const keep = await keepSet(cli.strings('keep-file'), undefined, {
    lenient: cli.flags['keep-file-lenient'] === true,
    refuseEmpty: cli.flags['allow-empty-keep'] !== true,
    note: text => {
      cli.note(text)
    }
  })
  const minCopies = cli.string('min-copies') === undefined ? undefined : wholeNumber(cli.string('min-copies')!)
  const names = storage.replicas.map(r => r.name)
  if (minCopies !== undefined && !(Number.isInteger(minCopies) && minCopies >= 1 && minCopies <= names.length))
    throw new UsageError(`--min-copies ${cli.string('min-copies')}: ${minCopiesProblem(minCopies, names)}`)
  const report = await storage.evict({
    olderThan,
    minCopies,
    keep,
    dryRun: cli.flags['dry-run'] === true,
    concurrency: cli.concurrency(),
    signal: cli.stopSignal()
  })
  const head = report.dryRun
    ? `dry run: would evict ${plural(report.wouldEvict ?? 0, 'primary copy', 'primary copies')} ` +
      `of ${report.examined}, freeing ${formatBytes(report.wouldFree ?? 0)}; nothing was deleted`
    : `evict ${report.interrupted ? 'interrupted' : 'complete'}: ` +
      `${plural(report.evicted, 'primary copy', 'primary copies')} evicted of ${report.examined}, ` +
      `freed ${formatBytes(report.bytesFreed)}`
  cli.out(
    `${head}\nkept: ${report.kept} younger, ${report.protected} protected, ` +
      `${report.renewed} stored again meanwhile, ${report.unsafe} without enough good replica copies` +
      report.unsafeObjects
        .slice(0, 20)
        .map(
          u =>
            `\n  ${u.sha256}: ${Object.entries(u.copies)
              .map(([name, why]) => `${name} ${why}`)
              .join(', ')}`
        )
        .join('') +
      `\n${storeLine(storage)}`,
    { command: 'evict', ...report, store: storage.location }
  )
  return report.interrupted ? 130 : report.unsafe > 0 ? 1 : 0
}
