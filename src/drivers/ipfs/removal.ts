/**
 * Deleting: unpin first (an entry without a pin is not stored), then the entry and its markers.
 *
 * `deleteIfNotRenewed` against a concurrent store, with no atomic step on IPFS for it: the prune
 * destroys (unpin, then remove the entry and the markers it judged), and after each step it reads
 * the markers again; a store makes its marker before it checks the pin and makes the entry (store.ts).
 * If the prune sees a newer marker it pins again (and makes the entry again): the store wins. If
 * it does not, the store's marker came after the prune's last look, so its pin and entry came
 * after the prune's removal too, and stand.
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

/** Deletes unless a store renewed the object after `lastStoredAt` (see above): true if deleted. */
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
  if (!(await pins.remove(cid, signal))) return false // not pinned (any more): not stored, or another prune's
  const seen = await index.names(sha256, signal)
  if (await renewed(seen)) {
    await pins.pin(cid, signal)
    return false
  }
  await index.remove(sha256, seen, signal)
  // a marker left after the removal is newer than what was judged: a store ran meanwhile
  if (markersOf(await index.names(sha256, signal), sha256).length > 0) {
    await pins.pin(cid, signal)
    await index.claim(sha256, cid, signal)
    await index.flush(sha256, signal) // the store's entry, put back: as lasting as the store made it
    return false
  }
  return true
}
