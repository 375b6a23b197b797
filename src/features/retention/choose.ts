/**
 * A prune's first two steps, as generators the deletions pull from: `scan` lists the store once and
 * yields the objects that may go (not kept, age known, not recent); `choose` yields those the age
 * limit takes as they come, and spills the others, with a budget, to a file (spill.ts), where it
 * finds the budget's cut (budget.ts) and takes it.
 */
import type { ImageEntry, ImageStorage } from '../../core/types.js'
import { type Cut, Histogram, MAX_HELD } from './budget.js'
import { complete } from './objects.js'
import type { Spill } from './spill.js'
import type { Spared, Tally } from './tally.js'
import type { PruneCandidate, PruneOptions } from './types.js'

/** One prune's rules, settled once from its options. */
export interface Rules {
  /** Objects last stored before this (ms) are chosen by age. */
  cutoff: number
  budgetBytes?: number
  minAgeMs: number
  isKept: (object: PruneCandidate) => boolean | Promise<boolean>
  /** A dry run that tells no one of each candidate: a budget's are counted, never made into objects. */
  countOnly: boolean
  signal?: AbortSignal
  onProgress?: PruneOptions['onProgress']
}

/** Objects listed between two readings of the clock (Date.now() per object was 2 % of a million-object prune). */
const CLOCK_EVERY = 256

/** The listed objects that may go; the others are counted in `tally`. An aborted listing ends the scan. */
export async function* scan(storage: ImageStorage, rules: Rules, tally: Tally): AsyncGenerator<PruneCandidate> {
  const { signal } = rules
  // The clock, read once every CLOCK_EVERY objects: an older reading spares more objects as recent, never fewer.
  let now = Date.now()
  let untilClock = CLOCK_EVERY
  try {
    for await (const listed of storage.list({ signal })) {
      if (signal?.aborted === true) break
      let entry: ImageEntry | Promise<ImageEntry | undefined> | undefined = complete(storage, listed)
      if (entry instanceof Promise && (entry = await entry) === undefined) continue // deleted while we looked
      const object = candidateOf(entry as ImageEntry)
      tally.listed(object.size)
      rules.onProgress?.({ phase: 'scan', done: tally.report.examined })
      // a million objects: no promise per object where the keep rule answers at once
      let kept = rules.isKept(object)
      if (typeof kept !== 'boolean') kept = await kept
      if (--untilClock === 0) {
        now = Date.now()
        untilClock = CLOCK_EVERY
      }
      const spared = kept ? 'protected' : spareOf(object, rules.minAgeMs, now)
      if (spared === undefined) yield object
      else tally.spared(spared)
    }
  } catch (error) {
    if (signal?.aborted !== true) throw error // (a listing cut short by the signal ends the prune, it does not fail it)
  }
}

function candidateOf(entry: ImageEntry): PruneCandidate {
  return { hash: entry.hash, sha256: entry.sha256, size: entry.size ?? 0, lastStoredAt: entry.lastStoredAt }
}

function spareOf(object: PruneCandidate, minAgeMs: number, clock: number): Spared | undefined {
  if (object.lastStoredAt === undefined) return 'unknown'
  // by the real clock (`clock`), not the prune's `now`: it guards objects that stores are writing while the prune runs
  return clock - object.lastStoredAt.getTime() < minAgeMs ? 'recent' : undefined
}

/** The objects chosen, each with its `chosenBy`: by age as they are listed, then by the budget. */
export async function* choose(
  eligible: AsyncIterable<PruneCandidate>,
  rules: Rules,
  tally: Tally,
  spill: Spill | undefined
): AsyncGenerator<PruneCandidate> {
  const histogram = new Histogram()
  let ageBytes = 0
  for await (const object of eligible) {
    const time = object.lastStoredAt!.getTime()
    if (time < rules.cutoff) {
      ageBytes += object.size
      object.chosenBy = 'age' // set on the candidate itself (made for this walk): a million objects, no copy each
      yield object
    } else if (spill !== undefined) {
      histogram.add(time, object.size)
      spill.add(object)
    } else tally.kept()
  }
  if (spill === undefined || rules.signal?.aborted === true) return
  const excess = tally.report.totalBytes - ageBytes - rules.budgetBytes!
  if (excess <= 0) tally.kept(spill.count)
  else yield* byBudget(spill, finestCut(spill, histogram, excess), rules.countOnly, tally)
}

/** The cut of `excess` bytes, finer over the spill while its slice holds too many objects to sort. */
function finestCut(spill: Spill, histogram: Histogram, excess: number): Cut {
  let cut: Cut & { held: number } = histogram.cut(excess)
  for (let finer = histogram.finer(cut); cut.held > MAX_HELD && finer !== undefined; finer = finer.finer(cut)) {
    const slice = finer
    for (const _ of spill.read((time, size) => {
      slice.add(time, size)
      return false
    }));
    cut = finer.cut(cut.bytes)
  }
  return cut
}

/** The budget's choices: every spilled object before the cut, then the cut's own, oldest first, until it is met. */
function* byBudget(spill: Spill, cut: Cut, countOnly: boolean, tally: Tally): Generator<PruneCandidate> {
  const held: PruneCandidate[] = []
  const { before, end } = cut
  const visit = (time: number, size: number): boolean => {
    if (time >= end) tally.kept()
    else if (time >= before || !countOnly) return true
    else tally.chosen('budget', time, size)
    return false
  }
  for (const object of spill.read(visit)) {
    if (object.lastStoredAt!.getTime() >= before) held.push(object)
    else {
      object.chosenBy = 'budget'
      yield object
    }
  }
  held.sort((a, b) => a.lastStoredAt!.getTime() - b.lastStoredAt!.getTime() || (a.hash < b.hash ? -1 : 1))
  let needed = cut.bytes
  for (const object of held) {
    if (needed <= 0) tally.kept()
    else {
      needed -= object.size
      object.chosenBy = 'budget'
      yield object
    }
  }
}
