/**
 * Retention: deletes objects by age and by a byte budget, oldest first, never a protected one, and
 * never one that a store renewed while the prune ran (on drivers with `deleteIfNotRenewed`). In
 * bounded memory at any size, in one walk: ages and sizes come from the listing (no request per
 * object), an age limit deletes while it lists, and a budget spills what it may delete to a file
 * (spill.ts), where it finds its cut (budget.ts) and takes it.
 *
 * @example
 * ```ts
 * import { prune } from 'sai-image-storage/retention'
 *
 * const report = await prune(storage, {
 *   olderThan: 90 * 24 * 3600 * 1000,   // last stored more than 90 days ago
 *   maxBytes: 500 * 2 ** 30,            // and then the oldest until at most 500 GiB remain
 *   keep: hashesWithDetections,         // refs, an (async) iterable, or a predicate
 *   variants                            // their variants go with them
 * })
 * ```
 */
import { forEachConcurrent } from '../../core/concurrency.js'
import { ConfigError } from '../../core/errors.js'
import { traced } from '../../core/tracing.js'
import type { ImageEntry, ImageStorage } from '../../core/types.js'
import { Histogram, MAX_HELD, type Cut } from './budget.js'
import { keeper } from './keep.js'
import { complete, remove } from './objects.js'
import { Spill } from './spill.js'
import type { PruneCandidate, PruneOptions, PruneReport } from './types.js'

export type { PruneCandidate, PruneOptions, PruneReport } from './types.js'

type Verdict = 'protected' | 'unknown' | 'recent' | 'eligible'

export async function prune(storage: ImageStorage, options: PruneOptions = {}): Promise<PruneReport> {
  const { olderThan, maxBytes, dryRun = false } = options
  if (olderThan === undefined && maxBytes === undefined)
    throw new ConfigError('prune', 'say what to prune: olderThan, maxBytes, or both')
  if (olderThan !== undefined && !(olderThan >= 0))
    throw new ConfigError('olderThan', 'expected milliseconds, 0 or more')
  if (maxBytes !== undefined && !(maxBytes >= 0)) throw new ConfigError('maxBytes', 'expected bytes, 0 or more')
  const summary = ({ deleted, bytesFreed, dryRun }: PruneReport): Record<string, unknown> => ({
    deleted,
    bytesFreed,
    dryRun
  })
  const trace = { driver: storage.driver, summary, fields: { olderThan, maxBytes, dryRun } }
  return await traced('prune', trace, async () => await run(storage, options))
}

async function run(storage: ImageStorage, options: PruneOptions): Promise<PruneReport> {
  const { olderThan, maxBytes, dryRun = false, signal } = options
  const now = (options.now ?? new Date()).getTime()
  const cutoff = olderThan === undefined ? -Infinity : now - olderThan
  const minAge = options.minAgeMs ?? 60_000
  const isKept = await keeper(options.keep)
  const report: PruneReport = {
    examined: 0,
    deleted: 0,
    bytesFreed: 0,
    chosenByAge: 0,
    chosenByBudget: 0,
    kept: 0,
    protected: 0,
    renewed: 0,
    unknownAge: 0,
    recent: 0,
    totalBytes: 0,
    remainingBytes: 0,
    overBudget: false,
    variantsRemoved: 0,
    dryRun,
    interrupted: false,
    passes: 1
  }
  let chosenBytes = 0
  let [oldest, newest] = [NaN, NaN] // of the objects chosen
  // a dry run that tells no one of each candidate only counts: a budget's are never made into objects
  const countOnly = dryRun && options.onCandidate === undefined

  // a million objects: no promise per object where the keep rule answers at once
  const verdict = (object: PruneCandidate): Verdict | Promise<Verdict> => {
    const kept = isKept(object)
    return typeof kept === 'boolean' ? ageVerdict(object, kept) : kept.then(isKept => ageVerdict(object, isKept))
  }
  const ageVerdict = (object: PruneCandidate, kept: boolean): Verdict => {
    if (kept) return 'protected'
    if (object.lastStoredAt === undefined) return 'unknown'
    // by the real clock, not `now`: it guards objects that stores are writing while the prune runs
    return Date.now() - object.lastStoredAt.getTime() < minAge ? 'recent' : 'eligible'
  }
  const candidateOf = (entry: ImageEntry): PruneCandidate => ({
    hash: entry.hash,
    sha256: entry.sha256,
    size: entry.size ?? 0,
    lastStoredAt: entry.lastStoredAt
  })

  // One walk of the store: the age limit's choices go as they are listed; with a budget, the
  // other eligible objects are counted by time and spilled to a file, where the cut is found
  // (finer over the spill while its slice holds too many to sort) and taken.
  const spill = maxBytes === undefined ? undefined : await Spill.create()
  async function* chosen(spill: Spill | undefined): AsyncGenerator<PruneCandidate> {
    const histogram = new Histogram()
    let ageBytes = 0
    for await (const listed of storage.list()) {
      if (signal?.aborted === true) break // (the listing ends early, it does not fail)
      let entry: ImageEntry | Promise<ImageEntry | undefined> | undefined = complete(storage, listed)
      if (entry instanceof Promise && (entry = await entry) === undefined) continue // deleted while we looked
      const object = candidateOf(entry as ImageEntry)
      report.examined++
      report.totalBytes += object.size
      options.onProgress?.({ phase: 'scan', done: report.examined })
      let kind = verdict(object)
      if (typeof kind !== 'string') kind = await kind
      if (kind !== 'eligible') {
        if (kind === 'protected') report.protected++
        else if (kind === 'unknown') report.unknownAge++
        else report.recent++
        continue
      }
      const time = object.lastStoredAt!.getTime()
      if (time < cutoff) {
        ageBytes += object.size
        object.chosenBy = 'age' // set on the candidate itself (made for this walk): a million objects, no copy each
        yield object
      } else if (spill !== undefined) {
        histogram.add(time, object.size)
        spill.add(object)
      } else report.kept++
    }
    if (spill === undefined || signal?.aborted === true) return
    const excess = report.totalBytes - ageBytes - maxBytes!
    if (excess <= 0) {
      report.kept += spill.count
      return
    }
    let cut: Cut & { held: number } = histogram.cut(excess)
    for (let finer = histogram.finer(cut); cut.held > MAX_HELD && finer !== undefined; finer = finer.finer(cut)) {
      const slice = finer
      for (const _ of spill.read((time, size) => {
        slice.add(time, size)
        return false
      }));
      cut = finer.cut(cut.bytes)
    }
    const held: PruneCandidate[] = []
    const { before, end } = cut
    const visit = (time: number, size: number): boolean => {
      if (time >= end) report.kept++
      else if (time >= before || !countOnly) return true
      else tally('budget', time, size)
      return false
    }
    for (const object of spill.read(visit)) {
      if (object.lastStoredAt!.getTime() < before) {
        object.chosenBy = 'budget'
        yield object
      } else held.push(object)
    }
    held.sort((a, b) => a.lastStoredAt!.getTime() - b.lastStoredAt!.getTime() || (a.hash < b.hash ? -1 : 1))
    let needed = cut.bytes
    for (const object of held) {
      if (needed <= 0) report.kept++
      else {
        needed -= object.size
        object.chosenBy = 'budget'
        yield object
      }
    }
  }
  const tally = (chosenBy: PruneCandidate['chosenBy'], time: number, size: number): void => {
    if (chosenBy === 'age') report.chosenByAge++
    else report.chosenByBudget++
    if (!(time >= oldest)) oldest = time
    if (!(time <= newest)) newest = time
    if (dryRun) chosenBytes += size
  }
  const count = (object: PruneCandidate): void => {
    tally(object.chosenBy, object.lastStoredAt!.getTime(), object.size)
  }
  try {
    if (countOnly)
      for await (const object of chosen(spill)) count(object) // nothing to wait for
    else
      await forEachConcurrent(chosen(spill), options.concurrency ?? 4, async object => {
        count(object)
        await options.onCandidate?.(object)
        if (dryRun) return
        if (await remove(storage, object, signal)) {
          report.deleted++
          report.bytesFreed += object.size
          if (options.variants !== undefined && object.sha256 !== undefined) {
            const removed = await options.variants.remove(object.sha256)
            report.variantsRemoved += removed // added after the await: deletions run side by side
          }
        } else {
          report.renewed++
        }
        options.onProgress?.({ phase: 'delete', done: report.deleted + report.renewed })
      })
  } finally {
    await spill?.remove()
  }
  if (!Number.isNaN(oldest)) [report.oldestChosen, report.newestChosen] = [new Date(oldest), new Date(newest)]
  report.interrupted = signal?.aborted === true
  if (dryRun) {
    report.wouldDelete = report.chosenByAge + report.chosenByBudget
    report.wouldFree = chosenBytes
  }
  report.remainingBytes = report.totalBytes - (dryRun ? chosenBytes : report.bytesFreed)
  report.overBudget = maxBytes !== undefined && report.remainingBytes > maxBytes
  return report
}
