/**
 * The listing of a replicated store: the union of every copy's, an evicted frame with its last
 * store on the primary.
 */
import type { ImageEntry, ImageStorage, ListOptions } from '../../core/types.js'
import { HOW, type Ledger, type LedgerRecord, PRIMARY } from './ledger.js'
import { mergeListings } from './merge.js'
import type { Replica } from './types.js'

/** Every object on any copy, in SHA-256 order: the primary's entry where it has one. */
export async function* listCopies(
  primary: ImageStorage,
  replicas: Replica[],
  ledger: Ledger,
  options: ListOptions
): AsyncGenerator<ImageEntry> {
  let shard = ''
  let marks = new Map<string, LedgerRecord>()
  for await (const { sha256, entries } of mergeListings(
    [primary, ...replicas.map(r => r.storage)].map(s => s.list(options))
  )) {
    const [own, ...copies] = entries
    if (own !== undefined) {
      yield own
      continue
    }
    if (sha256.slice(0, 2) !== shard) {
      // marks of evicted copies, a shard at a time: the listing is in order
      shard = sha256.slice(0, 2)
      marks = ledger.shard(PRIMARY, shard)
    }
    const copy = copies.find(entry => entry !== undefined)!
    const mark = marks.get(sha256)
    yield mark?.how === HOW.evicted && mark.lastStoredAt !== undefined
      ? { ...copy, lastStoredAt: new Date(mark.lastStoredAt) }
      : copy
  }
}
