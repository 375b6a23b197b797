/**
 * Retention: deletes objects by age and by a byte budget, oldest first, never a protected one, and
 * never one that a store renewed while the prune ran (on drivers with `deleteIfNotRenewed`). In
 * bounded memory at any size, in one walk: ages and sizes come from the listing (no request per
 * object), an age limit deletes while it lists, and a budget spills what it may delete to a file
 * (spill.ts), where it finds its cut (budget.ts) and takes it. Three steps: scan → choose
 * (choose.ts) → delete (here), counted in one `Tally` (tally.ts).
 *
 * @example
 * ```ts
 * import { prune } from 'sai-image-storage/retention'
 *
 * const report = await prune(storage, {
 *   olderThan: 90 * 24 * 3600 * 1000,   // last stored more than 90 days ago
 *   budgetBytes: 500 * 2 ** 30,         // and then the oldest until at most 500 GiB remain
 *   keep: hashesWithDetections,         // refs, an (async) iterable, or a predicate
 *   variants                            // their variants go with them
 * })
 * ```
 */
import { forEachConcurrent } from '../../core/concurrency.js'
import { ConfigError } from '../../core/errors.js'
import { traced } from '../../core/tracing.js'
import type { ImageStorage } from '../../core/types.js'
import { choose, type Rules, scan } from './choose.js'
import { keeper } from './keep.js'
import { remove } from './objects.js'
import { Spill } from './spill.js'
import { Tally } from './tally.js'
import type { PruneCandidate, PruneOptions, PruneReport } from './types.js'

export type { PruneCandidate, PruneOptions, PruneReport } from './types.js'

export async function prune(storage: ImageStorage, options: PruneOptions = {}): Promise<PruneReport> {
  const { olderThan, budgetBytes, dryRun = false } = options
  if ((options as { maxBytes?: unknown }).maxBytes !== undefined)
    throw new ConfigError('maxBytes', "prune's byte budget is budgetBytes (maxBytes is a store's input limit)")
  if (olderThan === undefined && budgetBytes === undefined)
    throw new ConfigError('prune', 'say what to prune: olderThan, budgetBytes, or both')
  if (olderThan !== undefined && !(olderThan >= 0))
    throw new ConfigError('olderThan', 'expected milliseconds, 0 or more')
  if (budgetBytes !== undefined && !(budgetBytes >= 0))
    throw new ConfigError('budgetBytes', 'expected bytes, 0 or more')
  // NaN would protect nothing recent; a number for `now` would fail midway
  if (options.minAgeMs !== undefined && !(options.minAgeMs >= 0))
    throw new ConfigError('minAgeMs', 'expected milliseconds, 0 or more')
  if (options.now !== undefined && !(options.now instanceof Date && Number.isFinite(options.now.getTime())))
    throw new ConfigError('now', 'expected a Date that holds a time')
  const summary = ({ deleted, bytesFreed, dryRun }: PruneReport): Record<string, unknown> => ({
    deleted,
    bytesFreed,
    dryRun
  })
  const trace = { driver: storage.driver, summary, fields: { olderThan, budgetBytes, dryRun } }
  return await traced('prune', trace, async () => await run(storage, options))
}

async function run(storage: ImageStorage, options: PruneOptions): Promise<PruneReport> {
  const rules = await rulesOf(options)
  const tally = new Tally(options.dryRun ?? false)
  const spill = options.budgetBytes === undefined ? undefined : await Spill.create()
  try {
    const chosen = choose(scan(storage, rules, tally), rules, tally, spill)
    if (rules.countOnly) for await (const object of chosen) tally.chosen(...chosenOf(object))
    else await deleteChosen(storage, chosen, options, tally)
  } finally {
    await spill?.remove()
  }
  return tally.finish(options.budgetBytes, options.signal?.aborted === true)
}

async function rulesOf(options: PruneOptions): Promise<Rules> {
  const now = (options.now ?? new Date()).getTime()
  return {
    cutoff: options.olderThan === undefined ? -Infinity : now - options.olderThan,
    budgetBytes: options.budgetBytes,
    minAgeMs: options.minAgeMs ?? 60_000,
    isKept: await keeper(options.keep),
    countOnly: options.dryRun === true && options.onCandidate === undefined,
    signal: options.signal,
    onProgress: options.onProgress
  }
}

const chosenOf = (object: PruneCandidate): Parameters<Tally['chosen']> => [
  object.chosenBy,
  object.lastStoredAt!.getTime(),
  object.size
]

/** Tells of each chosen object and (unless a dry run) deletes it and its variants, a few at a time. */
async function deleteChosen(
  storage: ImageStorage,
  chosen: AsyncIterable<PruneCandidate>,
  options: PruneOptions,
  tally: Tally
): Promise<void> {
  await forEachConcurrent(chosen, options.concurrency ?? 4, async object => {
    tally.chosen(...chosenOf(object))
    await options.onCandidate?.(object)
    if (options.dryRun === true) return
    if (await remove(storage, object, options.signal)) {
      const { variants } = options
      const removed = variants !== undefined && object.sha256 !== undefined ? await variants.remove(object.sha256) : 0
      tally.deleted(object.size, removed) // counted after the await: deletions run side by side
    } else tally.renewed()
    options.onProgress?.({ phase: 'delete', done: tally.report.deleted + tally.report.renewed })
  })
}
