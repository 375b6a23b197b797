/**
 * Deleting an object that a store may renew at the same moment, with nothing lost to the race
 * and nothing lost to a SIGKILL. Used by `prune` through `FilesystemDriver.deleteIfNotRenewedSince`.
 *
 * The protocol. A prune read the object's mtime T (its last store) and decided it may go:
 *   P1. rename `path` to `{root}/.pruning/{sha256}.{uuid}` (atomic: the name is free from now on);
 *   P2. stat the set-aside file: an mtime after T means a store renewed it, so
 *   P3a. put it back: link it to `path` (never overwriting: EEXIST means a store wrote it anew,
 *        same bytes), fsync the shard directory, unlink the set-aside name; or else
 *   P3b. unlink the set-aside file.
 * A duplicate store (files.ts `renewIfIntact`):
 *   S1. opens `path` and checks the bytes; S2. sets the mtime, through the open file, strictly
 *   after the old one; S3. resolves only if `path` still names that same file (device, inode),
 *   else writes the object anew (temp file, link or atomic rename into `path`).
 * Why every interleaving keeps a stored object: if P1 comes after S3, then S2 came before P2, so
 * P2 sees the renewal and P3a puts the object back. If P1 comes before S3, S3 sees the name empty
 * or holding another file, and the store writes its own copy, which nothing of this prune touches
 * again (P3a never overwrites). A store of a new object links its temp into the free name; the
 * same holds. The mtime only moves forward (renewal is max(now, old + 2 ms)), and `prune` never
 * picks an object last stored after it started, so T is always older than any renewal it races.
 * A SIGKILL between P1 and the end of P3 leaves the file in `.pruning`: `verify --repair` links
 * it back into place (see `restoreSetAside`), so each object is present, deleted, or set aside.
 */
import { randomUUID } from 'node:crypto'
import { link, mkdir, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { ShardingStrategy } from '../../src/core/sharding.js'
import { fsyncDir, isMissing, opendirIfExists, removeIfExists } from './files.js'

/** Where a prune sets objects aside before deleting them. */
export const PRUNING_DIR = '.pruning'

/** P1 to P3 above: true if the object was deleted, false if it was absent or renewed since `lastStoredAt`. */
export async function deleteIfNotRenewed (root: string, path: string, sha256: string, lastStoredAt: Date, fsync: boolean): Promise<boolean> {
  const dir = join(root, PRUNING_DIR)
  const aside = join(dir, `${sha256}.${randomUUID()}`)
  await mkdir(dir, { recursive: true })
  try {
    await rename(path, aside)
  } catch (err) {
    if (isMissing(err)) return false
    throw err
  }
  if (Math.floor((await stat(aside)).mtimeMs) > lastStoredAt.getTime()) {
    await putBack(aside, path, fsync)
    return false
  }
  await unlink(aside)
  if (fsync) await fsyncDir(dir)
  return true
}

/** Links a set-aside object back to `path` without overwriting, then drops the set-aside name. */
async function putBack (aside: string, path: string, fsync: boolean): Promise<void> {
  try {
    await link(aside, path)
    if (fsync) await fsyncDir(dirname(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err // a store wrote it anew: the same bytes are in place
  }
  await removeIfExists(aside)
}

/**
 * The objects a killed prune left set aside; with `repair`, each is put back where it belongs
 * (a prune that was killed had not finished deciding, so keeping is the safe side).
 */
export async function * restoreSetAside (root: string, sharding: ShardingStrategy, repair: boolean): AsyncGenerator<{ path: string, key: string, restoredTo: string }> {
  const dir = join(root, PRUNING_DIR)
  for await (const entry of await opendirIfExists(dir)) {
    const sha256 = entry.name.slice(0, 64)
    if (!entry.isFile() || !/^[0-9a-f]{64}\./.test(entry.name)) continue
    const path = join(dir, entry.name)
    const restoredTo = join(root, sharding.encode(sha256))
    if (repair) {
      await mkdir(dirname(restoredTo), { recursive: true })
      await putBack(path, restoredTo, true)
    }
    yield { path, key: `${PRUNING_DIR}/${entry.name}`, restoredTo }
  }
}
