import { ConfigError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { addFinding, inSubset, mergeReports, type VerifyReport } from '../../core/verify-report.js'
import { createVariants } from '../../features/variants/index.js'
import { Checkpoint } from '../checkpoint.js'
import { allowEmptyHint, notFramesAt, notFramesLine } from '../not-a-store.js'
import { type Expected, expectedFrames, expectedMissing, type Sought } from '../expected.js'
import { Progress } from '../progress.js'
import { type Context, missingRootLine, storeLine, UsageError } from '../context.js'
import { type Subset, verifyText } from './verify-text.js'

export async function verify(cli: Context): Promise<number> {
  const storage = await cli.storage()
  if (storage.verify === undefined)
    throw new UsageError(
      `verify works on drivers that can re-hash their objects (fs, s3); this one is ${storage.driver}`
    )
  const repair = cli.flags.repair === true
  const subset = parseSubset(cli.string('subset'))
  const path = cli.string('checkpoint')
  if (cli.flags.resume === true && path === undefined) throw new UsageError('--resume needs --checkpoint F')
  const checkpoint = path === undefined ? undefined : new Checkpoint(cli, path, storage.location, subset, repair)
  const after = cli.flags.resume === true ? await checkpoint!.read() : undefined
  const expecting = { files: cli.strings('expect-file'), sql: cli.string('expect-sql') }
  // read first: a bad line (or query) stops the command before anything is checked or repaired
  const sought =
    expecting.files.length === 0 && expecting.sql === undefined ? undefined : await expectedFrames(expecting, subset)
  const report = await verifyWithProgress(cli, storage, { repair, subset, after, checkpoint })
  const expected = sought === undefined ? undefined : await expectedCheck(cli, storage, report, expecting, sought)
  const variants = await variantsReport(storage, repair, subset === undefined && after === undefined)
  const total = variants === undefined ? report : mergeReports(report, variants)
  await checkpoint?.finish() // the next run starts over
  // a root that is not there (a typo, an unmounted array), or holds no store, is no clean store, unless expected
  const allowEmpty = cli.flags['allow-empty'] === true
  const notFrames = report.checked === 0 ? notFramesAt(storage.root) : undefined
  const unexpectedlyEmpty = (report.rootExists === false || notFrames !== undefined) && !allowEmpty
  const clean = total.clean && !unexpectedlyEmpty
  cli.out(
    verifyText({
      report,
      total,
      variants,
      subset,
      repair,
      unexpectedlyEmpty,
      short: total.storm !== undefined && !cli.json,
      expected
    }) +
      (report.rootExists === false ? `\n${missingRootLine(cli)}` : '') +
      (notFrames === undefined ? '' : `\n${notFramesLine(notFrames, allowEmptyHint(allowEmpty))}`) +
      `\n${storeLine(storage)}`,
    {
      ...total,
      clean,
      subset,
      expected,
      store: storage.location,
      variants,
      ...(notFrames === undefined ? {} : { notFrames })
    }
  )
  return clean ? 0 : 1
}

/** `--expect-file` / `--expect-sql`: each expected frame the store does not hold is a `lost` finding. */
async function expectedCheck(
  cli: Context,
  storage: ImageStorage,
  report: VerifyReport,
  expecting: Expected,
  sought: Sought
): Promise<{ frames: number; missing: number }> {
  const { frames, missing } = await expectedMissing(storage, expecting, sought, { signal: cli.stopSignal() })
  const reported = new Set(report.problems.filter(p => p.reason === 'lost').map(p => p.key))
  for (const ref of missing)
    if (![...reported].some(key => key.includes(ref))) addFinding(report, { reason: 'lost', key: ref, path: ref })
  return { frames, missing: missing.length }
}

/**
 * The store's own verify, with a progress bar whose total is counted beside it, and a checkpoint
 * saved each second.
 */
async function verifyWithProgress(
  cli: Context,
  storage: ImageStorage,
  options: { repair: boolean; subset?: Subset; after?: string; checkpoint?: Checkpoint }
): Promise<VerifyReport> {
  const { subset, after, checkpoint } = options
  const stop = cli.stopSignal()
  const progress = new Progress('verify', 0, cli.progress)
  // the objects to check, counted beside the check (names only): the bar's total and its ETA
  progress.countTotal(
    () => storage.list({ after, signal: stop }),
    entry => entry.sha256 === undefined || inSubset(entry.sha256, subset)
  )
  try {
    return await storage.verify!({
      repair: options.repair,
      subset,
      after,
      force: cli.flags.force === true,
      concurrency: cli.flags.concurrency === undefined ? undefined : cli.concurrency(),
      signal: stop,
      onFinding: finding => checkpoint?.found(finding.key),
      onProgress: p => {
        progress.set(p.checked)
        if (p.lastDone !== undefined) checkpoint?.save(p.lastDone)
      }
    })
  } finally {
    progress.stop()
  }
}

function parseSubset(text: string | undefined): Subset | undefined {
  if (text === undefined) return undefined
  const match = /^(\d+)\/(\d+)$/.exec(text)
  const [index, count] = match === null ? [NaN, NaN] : [Number(match[1]), Number(match[2])]
  if (!(count >= 1 && count <= 65536 && index >= 0 && index < count))
    throw new UsageError('--subset takes K/N with 0 <= K < N <= 65536, e.g. 3/30')
  return { index, count }
}

/** The variant cache's report, where the store has one (and the whole store is checked). */
async function variantsReport(
  storage: ImageStorage,
  repair: boolean,
  whole: boolean
): Promise<VerifyReport | undefined> {
  if (!whole) return undefined
  try {
    return await createVariants(storage).verify({ repair })
  } catch (err) {
    if (err instanceof ConfigError) return undefined // no cache for this driver
    throw err
  }
}
