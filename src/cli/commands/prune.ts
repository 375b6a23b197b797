import { open } from 'node:fs/promises'
import { ConfigError, InvalidInputError } from '../../core/errors.js'
import { RefSet } from '../../features/retention/keep.js'
import { badLinesText, readRefLists } from '../ref-lists.js'
import { prune as pruneStore, type PruneOptions, type PruneReport } from '../../features/retention/prune.js'
import { createVariants, type Variants } from '../../features/variants/index.js'
import type { ImageStorage } from '../../core/types.js'
import { Progress } from '../progress.js'
import { plural, storeLine, UsageError, type Context } from '../context.js'
import { formatBytes, parseDuration, parseSize } from '../units.js'

export async function prune(cli: Context): Promise<number> {
  const olderThan =
    cli.string('older-than') === undefined ? undefined : parseDuration(cli.string('older-than')!, '--older-than')
  const budgetBytes =
    cli.string('max-bytes') === undefined ? undefined : parseSize(cli.string('max-bytes')!, '--max-bytes')
  if (olderThan === undefined && budgetBytes === undefined)
    throw new UsageError('say what to prune: --older-than, --max-bytes, or both')
  const dryRun = cli.flags['dry-run'] === true
  if (cli.string('list') !== undefined && !dryRun) throw new UsageError('--list writes what a --dry-run would delete')
  let skipped: string | undefined
  const keep = await keepSet(cli.strings('keep-file'), cli.string('keep-sql'), {
    lenient: cli.flags['keep-file-lenient'] === true,
    refuseEmpty: cli.flags['allow-empty-keep'] !== true,
    note: text => {
      skipped = text
    }
  })
  const storage = await cli.storage()
  const list = cli.string('list') === undefined ? undefined : await candidateList(cli.string('list')!)
  const progress = new Progress('prune', 0, cli.progress)
  let report: PruneReport
  try {
    report = await pruneStore(storage, {
      olderThan,
      budgetBytes,
      keep,
      dryRun,
      variants: variantsOf(storage),
      onCandidate: list?.write,
      signal: cli.stopSignal(),
      concurrency: cli.concurrency(),
      onProgress: p => {
        progress.set(p.done)
      }
    })
  } finally {
    progress.stop()
    await list?.end()
  }
  cli.out(
    summary(report, olderThan !== undefined, budgetBytes !== undefined) +
      (list === undefined ? '' : `\nlisted in ${cli.string('list')}`) +
      (skipped === undefined ? '' : `\n${skipped}`) +
      `\n${storeLine(storage)}`,
    {
      command: 'prune',
      ...report,
      ...(skipped === undefined ? {} : { keepFileSkipped: skipped }),
      store: storage.location
    }
  )
  return report.interrupted ? 130 : 0
}

/** The store's variant cache, whose variants go with their objects; none for a driver without one. */
function variantsOf(storage: ImageStorage): Variants | undefined {
  try {
    return createVariants(storage)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return undefined
  }
}

/** --list F: a dry run's candidates, one "sha256 size last-stored limit" line each; opened before the prune. */
async function candidateList(
  path: string
): Promise<{ write: NonNullable<PruneOptions['onCandidate']>; end: () => Promise<void> }> {
  const fail = (err: unknown): never => {
    throw InvalidInputError.unreadable(path, err, 'write')
  }
  const out = await open(path, 'w').catch(fail)
  let lines = '' // written 64 KiB at a time: a million candidates are not a million writes
  return {
    write: async c => {
      lines += `${c.sha256 ?? c.hash} ${c.size} ${c.lastStoredAt?.toISOString() ?? ''} ${c.chosenBy ?? ''}\n`
      if (lines.length < 65536) return
      const chunk = lines
      lines = ''
      await out.write(chunk).catch(fail)
    },
    end: async () => {
      try {
        await out.write(lines).catch(fail)
      } finally {
        await out.close()
      }
    }
  }
}

function summary(report: PruneReport, byAge: boolean, byBudget: boolean): string {
  const chosen = report.chosenByAge + report.chosenByBudget
  const why = [byAge ? `${report.chosenByAge} by age` : '', byBudget ? `${report.chosenByBudget} by the budget` : '']
    .filter(Boolean)
    .join(', ')
  const range =
    report.oldestChosen === undefined
      ? ''
      : `, last stored ${report.oldestChosen.toISOString()} to ${report.newestChosen!.toISOString()}`
  const limits = [byAge ? 'younger than --older-than' : '', byBudget ? 'within --max-bytes' : '']
    .filter(Boolean)
    .join(' and ')
  const kept =
    `kept: ${report.kept} ${limits}, ${report.protected} protected, ${report.recent} stored in the last minute, ` +
    `${report.renewed} stored again during the prune, ${report.unknownAge} of unknown age`
  const of = `of ${report.examined} (${why}${range})`
  const head = report.dryRun
    ? `dry run: would delete ${plural(chosen, 'object')} ${of}, freeing ${formatBytes(report.wouldFree ?? 0)}; ` +
      'nothing was deleted'
    : `prune ${report.interrupted ? 'interrupted' : 'complete'}: deleted ${plural(report.deleted, 'object')} ${of}, ` +
      `freed ${formatBytes(report.bytesFreed)}, ${plural(report.variantsRemoved, 'variant')} removed`
  const budget = report.overBudget
    ? `\nstill over --max-bytes: ${formatBytes(report.remainingBytes)} remain, ` +
      'the rest is protected, recent or of unknown age'
    : ''
  return `${head}\n${kept}${budget}`
}

/**
 * The refs of every --keep-file and of --keep-sql's first column, in a compact set (millions fit).
 * Each is read as a keep-file line is (a SHA-256, a key, a CID): a line or a row that names no
 * object (a NULL, an id, an absolute path) stops the command before it deletes anything (exit 2),
 * unless `lenient`: then it is skipped, and said.
 */
export async function keepSet(
  files: string[],
  sql: string | undefined,
  options: { lenient?: boolean; note?: (text: string) => void; refuseEmpty?: boolean } = {}
): Promise<RefSet> {
  const refs = new RefSet()
  const { bad, badLines } = await readRefLists(files, { query: sql, option: '--keep-sql' }, ref => refs.add(ref))
  if (badLines > 0) {
    const lines = badLinesText(bad, badLines)
    if (options.lenient !== true) {
      throw new UsageError(
        `${plural(badLines, 'line')} of the keep file or --keep-sql name no object (a ref is a SHA-256 in hex, a ` +
          `key such as ab/cd/<sha256>.jpg, or a CID); nothing was deleted. Fix ${badLines === 1 ? 'it' : 'them'}, ` +
          `or pass --keep-file-lenient to skip such lines:${lines}`
      )
    }
    options.note?.(`keep file: ${plural(badLines, 'line')} skipped (they name no object, --keep-file-lenient):${lines}`)
  }
  if (options.refuseEmpty === true && refs.size === 0 && (files.length > 0 || sql !== undefined))
    throw new UsageError(
      'the keep file and --keep-sql name no object at all (an empty file, an export that failed, a query that ' +
        'matched no row): it would protect nothing; nothing was deleted. ' +
        'Pass --allow-empty-keep if that is right'
    )
  return refs
}
