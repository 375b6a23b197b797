import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { ConfigError, InvalidInputError } from '../../core/errors.js'
import { prune as pruneStore, type PruneReport } from '../../retention/prune.js'
import { createVariants } from '../../variants/index.js'
import { connectDatabase, databaseError } from '../database.js'
import { Progress } from '../progress.js'
import { plural, UsageError, type Command } from '../context.js'
import { formatBytes, parseDuration, parseSize } from '../units.js'

export const prune: Command = {
  name: 'prune',
  usage: 'prune [--older-than 90d] [--max-bytes 500G] [--keep-file F]... [--keep-sql QUERY] [--dry-run]',
  summary: 'delete objects last stored long ago, or the oldest over a byte budget; protected ones stay',
  help: 'Age is the time of the last store: a duplicate store makes an object young again. With both\n' +
    'limits, objects older than --older-than go, then the oldest until at most --max-bytes remain.\n' +
    '--keep-file F: one ref per line, never deleted (repeatable). --keep-sql QUERY: its first column\n' +
    'holds refs, run on DATABASE_URL (npm install pg), e.g. the hashes of frames with detections.\n' +
    'Sizes are binary (500G = 500 GiB). The variants of a deleted object go with it.\n' +
    '--dry-run lists what would go and the space it frees. A store that renews an object while the\n' +
    'prune runs keeps it; a prune killed midway leaves objects in {root}/.pruning that\n' +
    '`sai-images verify --repair` puts back.',
  options: {
    'older-than': { type: 'string' },
    'max-bytes': { type: 'string' },
    'keep-file': { type: 'string', multiple: true },
    'keep-sql': { type: 'string' },
    'dry-run': { type: 'boolean', default: false }
  },
  async run (cli) {
    const olderThan = cli.string('older-than') === undefined ? undefined : parseDuration(cli.string('older-than')!, '--older-than')
    const maxBytes = cli.string('max-bytes') === undefined ? undefined : parseSize(cli.string('max-bytes')!, '--max-bytes')
    if (olderThan === undefined && maxBytes === undefined) throw new UsageError('say what to prune: --older-than, --max-bytes, or both')
    const keep = await keepSet((cli.flags['keep-file'] as unknown as string[] | undefined) ?? [], cli.string('keep-sql'))
    const storage = cli.storage()
    const dryRun = cli.flags['dry-run'] === true
    let variants
    try {
      variants = createVariants(storage)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err // no variant cache for this driver
    }
    const progress = new Progress('prune', 0, cli.progress)
    let report: PruneReport
    try {
      report = await pruneStore(storage, { olderThan, maxBytes, keep, dryRun, variants, signal: cli.stopSignal(), concurrency: cli.concurrency(), onProgress: p => { if (p.phase === 'delete') progress.tick() } })
    } finally {
      progress.stop()
    }
    const freed = `${formatBytes(report.bytesFreed)} (${report.bytesFreed} bytes)`
    const kept = `kept: ${report.keptByAge} by age, ${report.protected} protected, ${report.renewed} stored again during the prune, ${report.unknownAge} of unknown age`
    const head = dryRun
      ? `dry run: would delete ${plural(report.deleted, 'object')} of ${report.examined}, freeing ${freed}; ${kept}`
      : `prune ${report.interrupted ? 'interrupted' : 'complete'}: deleted ${plural(report.deleted, 'object')} of ${report.examined}, freed ${freed}, ${plural(report.variantsRemoved, 'variant')} removed; ${kept}`
    const budget = report.overBudget ? `\nstill over --max-bytes: ${formatBytes(report.remainingBytes)} remain, the rest is protected or of unknown age` : ''
    const list = dryRun ? (report.candidates ?? []).slice(0, 50).map(c => `\n  ${c.sha256 ?? c.hash} ${c.size} ${c.lastStoredAt?.toISOString() ?? ''}`).join('') + ((report.candidates?.length ?? 0) > 50 ? `\n  … and ${report.candidates!.length - 50} more (--json lists all)` : '') : ''
    cli.out(head + budget + list, { command: 'prune', ...report })
    if (report.interrupted) return 130
    return 0
  }
}

/** The refs of every --keep-file and of --keep-sql's first column. */
async function keepSet (files: string[], sql: string | undefined): Promise<Set<string>> {
  const refs = new Set<string>()
  const add = (ref: unknown): void => {
    const text = String(ref ?? '').trim()
    if (text !== '' && !text.startsWith('#')) refs.add(/^[0-9a-fA-F]{64}$/.test(text) ? text.toLowerCase() : text)
  }
  for (const file of files) {
    try {
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) add(line)
    } catch (err) {
      throw InvalidInputError.unreadable(file, err, 'read the keep file')
    }
  }
  if (sql !== undefined) {
    const db = await connectDatabase()
    try {
      const result = await db.query(sql).catch((err: unknown) => { throw databaseError(err, 'check the query', '--keep-sql') })
      const first = (result as unknown as { fields: Array<{ name: string }> }).fields[0]?.name
      if (first === undefined) throw new UsageError('--keep-sql must return at least one column (the refs)')
      for (const row of result.rows) add(row[first])
    } finally {
      await db.end()
    }
  }
  return refs
}
