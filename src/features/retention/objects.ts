/** The store as a prune sees it: listed with every size and age, and an object removed only if no store renewed it. */
import type { ImageEntry, ImageStorage } from '../../core/types.js'
import type { KeepCandidate } from './keep.js'

/**
 * A listed entry with its size and age: as listed, or (a driver whose listing lacks them: none of
 * ours) from a `stat`; undefined if it was deleted meanwhile. (A function the listing's loop calls,
 * not a generator around it: a million entries pay for every layer.)
 */
export function complete(storage: ImageStorage, entry: ImageEntry): ImageEntry | Promise<ImageEntry | undefined> {
  if (entry.size !== undefined && entry.lastStoredAt !== undefined) return entry
  return storage.stat(entry.sha256 ?? entry.hash).then(
    stat => ({ ...entry, size: stat.size, lastStoredAt: stat.lastStoredAt ?? stat.storedAt }),
    (err: { code?: string }) => {
      if (err.code === 'ERR_NOT_FOUND') return undefined
      throw err
    }
  )
}

/** Deletes one chosen object: never one renewed since it was listed, where the driver can tell. */
export async function remove(storage: ImageStorage, object: KeepCandidate, signal?: AbortSignal): Promise<boolean> {
  const ref = object.sha256 ?? object.hash
  return storage.deleteIfNotRenewed !== undefined
    ? await storage.deleteIfNotRenewed(ref, object.lastStoredAt!, { signal })
    : await storage.delete(ref, { signal })
}
