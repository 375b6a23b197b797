/** The long jobs over many items: import and migrate (the engine is the jobs feature). */
import { createHash } from 'node:crypto'
import { realpath } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import type { ImageStorage } from '../../core/types.js'
import {
  importTree,
  migrate as migrateJob,
  notImagesFile,
  planMigration,
  type JobSummary
} from '../../features/jobs/index.js'
import { importFiles } from '../../features/jobs/import.js'
import { Progress } from '../progress.js'
import { plural, storeLine, UsageError, type Context } from '../context.js'
import { formatBytes, parseDuration } from '../units.js'
import { copyBeforeExit } from './replication.js'

export async function importCommand(cli: Context): Promise<number> {
  const dir = cli.arg(0, 'dir')
  const mapping = cli.string('mapping') ?? defaultMapping(dir)
  const minAge = cli.string('min-age')
  const minAgeMs = minAge === undefined ? undefined : parseDuration(minAge, '--min-age')
  const storage = await cli.storageToWrite()
  const progress = new Progress('import', 0, cli.progress)
  const tree = { exclude: cli.strings('exclude'), followSymlinks: cli.flags['follow-symlinks'] === true }
  // the files to take, counted beside the job (names only): the bar's total and its ETA
  progress.countTotal(() => importFiles(dir, tree))
  const summary = await importTree(storage, dir, {
    mapping,
    concurrency: cli.concurrency(),
    signal: cli.stopSignal(),
    ...tree,
    allowNonImage: cli.flags['allow-non-image'] === true,
    minAgeMs,
    onProgress: s => {
      progress.set(s.done + s.failed.length + s.skipped)
    }
  }).finally(() => {
    progress.stop()
  })
  const firstFive = (names: string[]): string => `${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}`
  const notes = [
    summary.symlinks.length === 0
      ? ''
      : `\nskipped ${plural(summary.symlinks.length, 'symbolic link')} (--follow-symlinks follows them): ` +
        firstFive(summary.symlinks),
    summary.notImages.length === 0
      ? ''
      : `\n${plural(summary.notImages.length, 'file')} not an image ` +
        `(recorded in ${notImagesFile(mapping)}; later runs pass over them): ${firstFive(summary.notImages)}`,
    summary.excluded === 0 ? '' : `\nexcluded: ${plural(summary.excluded, 'file')}`,
    missing(summary.missingOnTarget ?? 0, 'imported') // (an earlier release's mapping, checked once)
  ].join('')
  const code = report(cli, 'import', summary, storage, notes)
  await copyBeforeExit(cli, storage)
  return code
}

export async function migrate(cli: Context): Promise<number> {
  const [fromName, toName, mapping] = [cli.string('from'), cli.string('to'), cli.string('mapping')]
  if (fromName === undefined || toName === undefined || mapping === undefined)
    throw new UsageError('migrate needs --from, --to and --mapping')
  if (cli.string('driver') !== undefined) throw new UsageError('migrate takes --from and --to, not --driver')
  if (toName === 'memory')
    throw new UsageError(
      '--to memory keeps nothing: the copies would vanish when this command exits (migrate to fs, s3 or ipfs)'
    )
  // the environment's store, with its replicas (if any): the frames evicted from its primary are read from them, and
  // a damaged primary copy is answered (and healed) by one, as every read does; another store is read as it is
  const root = cli.string('root')
  const own = root === undefined && fromName === (process.env.SAI_IMAGE_STORAGE_DRIVER?.trim() || 'fs')
  const from = await cli.storageFor(fromName, root, own, { driver: '--from', root: '--root' })
  const to = await cli.storageFor(toName, cli.string('to-root'), false, { driver: '--to', root: '--to-root' })
  if (await sameStore(from, to))
    throw new UsageError(
      `the target is the source store (${from.location ?? from.driver}): ` +
        'name another with --to-root, or another driver'
    )
  if (cli.flags['dry-run'] === true) {
    const plan = await planMigration(from, mapping, cli.stopSignal(), to)
    cli.out(
      `dry run: would copy ${plural(plan.wouldCopy, 'object')} (${formatBytes(plan.wouldCopyBytes)}); ` +
        `${plan.alreadyCopied} copied already${missing(plan.missingOnTarget, 'would be copied')}\nfrom ${from.location ?? from.driver}\nto ${to.location ?? to.driver}`,
      { command: 'migrate', dryRun: true, ...plan, from: from.location, to: to.location, store: to.location }
    )
    return 0
  }
  const progress = new Progress('migrate', 0, cli.progress)
  const stop = cli.stopSignal()
  progress.countTotal(() => from.list({ signal: stop })) // the source's objects, counted beside the copies
  const summary = await migrateJob(from, to, {
    mapping,
    concurrency: cli.concurrency(),
    signal: stop,
    onProgress: s => {
      progress.set(s.done + s.failed.length + s.skipped)
    }
  }).finally(() => {
    progress.stop()
  })
  const notes = `, ${formatBytes(summary.bytes)}${missing(summary.missingOnTarget ?? 0, 'copied')}`
  return report(cli, 'migrate', summary, to, `${notes}\nfrom ${from.location ?? from.driver}`, {
    from: from.location,
    to: to.location
  })
}

/** The objects a mapping records that the target lost since: said, since it is a loss on the target. */
const missing = (count: number, verb: string): string =>
  count === 0 ? '' : `\n${plural(count, 'object')} the mapping records missing from the target (${verb} again)`

/** The closing lines of a job; its exit code. */
function report(
  cli: Context,
  name: string,
  summary: JobSummary,
  storage: ImageStorage,
  notes: string,
  extra: object = {}
): number {
  const state = summary.interrupted ? 'interrupted' : 'complete'
  cli.out(
    `${name} ${state}: ${summary.done} done, ${summary.skipped} already done earlier, ` +
      `${summary.failed.length} failed, of ${summary.total}` +
      notes +
      `\nmapping: ${summary.mapping}` +
      summary.failed.map(f => `\n  ${f.code} ${f.item}: ${f.message}`).join('') +
      `\n${storeLine(storage)}`,
    { command: name, ...summary, ...extra, store: storage.location }
  )
  if (summary.interrupted) return 130
  return summary.failed.length > 0 ? 1 : 0
}

/** Whether `a` and `b` are one store: the same location (a real path for a local root). */
async function sameStore(a: ImageStorage, b: ImageStorage): Promise<boolean> {
  if (a.root !== undefined && b.root !== undefined) {
    const [ra, rb] = await Promise.all([a.root, b.root].map(async root => await realpath(root).catch(() => root)))
    return ra === rb
  }
  return a.driver === b.driver && a.location !== undefined && a.location === b.location
}

/** `./sai-images-import-original-1a2b3c4d.jsonl` for `/srv/dashboard/original`. */
export function defaultMapping(dir: string): string {
  const absolute = resolve(dir)
  const tag = createHash('sha256').update(absolute).digest('hex').slice(0, 8)
  return `sai-images-import-${basename(absolute).replace(/[^\w.-]/g, '_') || 'root'}-${tag}.jsonl`
}
