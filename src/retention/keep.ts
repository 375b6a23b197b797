/** The objects `prune` must never delete, however given. */
import { parseImageRef } from '../core/ref.js'
import type { ImageEntry } from '../core/types.js'

/** Refs (SHA-256 hex, or a CID), sync or async (read once, before anything is deleted), or a predicate. */
export type Keep = Iterable<string> | AsyncIterable<string> | ((ref: string, entry: ImageEntry) => boolean | Promise<boolean>)

/** A test for `(ref, entry)`; refs are compared by SHA-256 where they name one, else as written. */
export async function keepTest (keep: Keep | undefined, signal?: AbortSignal): Promise<(ref: string, entry: ImageEntry) => boolean | Promise<boolean>> {
  if (keep === undefined) return () => false
  if (typeof keep === 'function') return keep
  const refs = new Set<string>()
  for await (const ref of keep) {
    signal?.throwIfAborted()
    refs.add(normalise(ref.trim()))
  }
  return (ref, entry) => refs.has(ref) || refs.has(entry.hash) || (entry.sha256 !== undefined && refs.has(entry.sha256))
}

function normalise (ref: string): string {
  try {
    return parseImageRef(ref).sha256
  } catch {
    return ref // a driver's own address (an IPFS dag-pb CID)
  }
}
