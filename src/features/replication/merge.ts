/**
 * Listings side by side: each is in SHA-256 order, so a merge walks them once, in step, holding
 * one entry of each: what the primary and each replica hold, for any number of objects, in
 * bounded memory and with no request per object.
 */
import type { ImageEntry } from '../../core/types.js'

export interface Merged {
  sha256: string
  /** Each listing's entry for the hash, or undefined where it has none. */
  entries: Array<ImageEntry | undefined>
}

export async function* mergeListings(listings: Array<AsyncIterable<ImageEntry>>): AsyncGenerator<Merged> {
  const iterators = listings.map(listing => listing[Symbol.asyncIterator]())
  // entries the listing knows no SHA-256 of (IPFS objects stored before its index) have no place in the merge
  const next = async (i: number): Promise<ImageEntry | undefined> => {
    for (;;) {
      const { done, value } = await iterators[i]!.next()
      if (done === true) return undefined
      if (value.sha256 !== undefined) return value
    }
  }
  const heads = await Promise.all(iterators.map(async (_, i) => await next(i)))
  try {
    for (;;) {
      let least: string | undefined
      for (const head of heads)
        if (head !== undefined && (least === undefined || head.sha256! < least)) least = head.sha256
      if (least === undefined) return
      const entries = heads.map(head => (head?.sha256 === least ? head : undefined))
      yield { sha256: least, entries }
      await Promise.all(
        entries.map(async (entry, i) => {
          if (entry !== undefined) heads[i] = await next(i)
        })
      )
    }
  } finally {
    await Promise.all(iterators.map(async iterator => await iterator.return?.()))
  }
}
