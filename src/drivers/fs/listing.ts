/**
 * The store's entries, from the walk's columns (walk.ts): a million entries are read by index,
 * with no object made per file but the entry itself.
 */
import { join } from 'node:path'
import { hashOfDecodedKey, type ShardingStrategy } from '../../core/sharding.js'
import type { ImageEntry, ListOptions } from '../../core/types.js'
import { walkUnits } from './walk.js'

/** The SHA-256 a walked file's key names (its `kind` from the walk), or undefined for a misnamed file. */
export function sha256OfKey(key: string, kind: number, sharding: ShardingStrategy): string | undefined {
  return kind >= 2 ? hashOfDecodedKey(key) : kind === 1 ? sharding.decode(key) : undefined
}

/** Every object below `root`, in SHA-256 order, with its size and mtime; none if `ready` says false. */
export async function* listEntries(
  root: string,
  sharding: ShardingStrategy,
  options: ListOptions,
  ready: () => Promise<boolean>,
  /** A folder the walk cannot read (EACCES, EIO) as the store's error: unavailable, not the OS's own. */
  unusable: (err: unknown) => unknown
): AsyncGenerator<ImageEntry> {
  if (!(await ready())) return
  const prefix = join(root, '/')
  try {
    for await (const { count, key: keyOf, numbers } of walkUnits(root, sharding, options)) {
      for (let i = 0; i < count; i++) {
        const key = keyOf(i)
        const sha256 = sha256OfKey(key, numbers[i * 5 + 2]!, sharding)
        // lastStoredAt rounded as fs.Stats rounds the mtime: `deleteIfNotRenewed` compares the two
        if (sha256 !== undefined)
          yield {
            hash: sha256,
            sha256,
            key,
            path: prefix + key,
            size: numbers[i * 5]!,
            lastStoredAt: new Date(Math.round(numbers[i * 5 + 1]!))
          }
      }
    }
  } catch (err) {
    throw unusable(err)
  }
}
