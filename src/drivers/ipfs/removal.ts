/**
 * Deleting: unpin first (an entry without a pin is not stored), then the entry and its markers.
 *
 * `deleteIfNotRenewed` against a concurrent store, with no atomic step on IPFS for it: the prune
 * destroys (unpin, then remove the entry and the markers it judged), and after each step it reads
 * the markers again; a store makes its marker before it checks the pin and makes the entry (store.ts).
 * If the prune sees a newer marker it pins again (and makes the entry again): the store wins. If
 * it does not, the store's marker came after the prune's last look, so its pin and entry came
 * after the prune's removal too, and stand. A prune killed between its unpin and its put-back
 * leaves a renewed object unpinned (docs/drivers/ipfs.md: not closed).
 */
import type { MfsIndex } from './mfs-index.js'
import { markersOf } from './mfs-index.js'
import type { Pins } from './pins.js'

export interface Target {
  cid: string
  sha256?: string
}

/** Unpins and removes the index entry: true if either was there. */
export async function deleteObject(
  index: MfsIndex,
  pins: Pins,
  target: Target,
  signal?: AbortSignal
): Promise<boolean> {
  const unpinned = await pins.remove(target.cid, signal)
  const unindexed = target.sha256 === undefined ? false : await index.remove(target.sha256, undefined, signal)
  return unpinned || unindexed
}

/**
 * Deletes unless a store renewed the object after `lastStoredAt` (see above): true if deleted. Once it has asked
 * for the unpin, a failure or an abort puts the object back before it is thrown (with no signal: each call bounded by
 * the driver's timeout), since a store may have renewed it meanwhile and only this call would restore it: a prune
 * stopped half-way keeps the object, a later one judges it again.
 */
export async function deleteIfNotRenewed(
  index: MfsIndex,
  pins: Pins,
  target: Required<Target>,
  lastStoredAt: Date,
  signal?: AbortSignal
): Promise<boolean> {
  const { cid, sha256 } = target
  const judged = lastStoredAt.getTime()
  const renewed = async (names: string[]): Promise<boolean> =>
    (await index.storedTime(sha256, names, signal))?.getTime() !== judged
  if (await renewed(await index.names(sha256, signal))) return false
  try {
    if (!(await pins.remove(cid, signal))) return false // not pinned (any more): not stored, or another prune's
    const seen = await index.names(sha256, signal)
    if (await renewed(seen)) {
      await pins.pin(cid, signal)
      return false
    }
    await index.remove(sha256, seen, signal)
    // a marker left after the removal is newer than what was judged: a store ran meanwhile
    if (markersOf(await index.names(sha256, signal), sha256).length > 0) {
      await putBack(index, pins, target, undefined, signal)
      return false
    }
    return true
  } catch (err) {
    await putBack(index, pins, target, judged).catch(() => {}) // the caller's error is the one to tell
    throw err
  }
}

/**
 * The pin and the entry made again (and the judged time, `at`, if its marker went), flushed: as lasting as the
 * store that renewed the object made them.
 */
async function putBack(
  index: MfsIndex,
  pins: Pins,
  { cid, sha256 }: Required<Target>,
  at?: number,
  signal?: AbortSignal
): Promise<void> {
  await pins.pin(cid, signal)
  if (at !== undefined) await index.renew(sha256, at, signal)
  await index.claim(sha256, cid, signal)
  await index.flush(sha256, signal)
}
