/** Small filesystem steps the driver and `verify` share. */
import { createHash } from 'node:crypto'
import { open, opendir, stat, unlink, type FileHandle } from 'node:fs/promises'
import type { Dirent, Stats } from 'node:fs'

/** Makes a directory's entries (a new link, a new subdirectory) survive a power cut. */
export async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Opens `path` for reading, or undefined if nothing is there. */
export async function openIfExists (path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r')
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

/** SHA-256 hex of everything an open file holds, read in a stream. */
export async function hashFile (handle: FileHandle, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of handle.createReadStream({ autoClose: false, start: 0, signal })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * The stored object's stat if the file at `path` is intact by `check`, else undefined (absent,
 * truncated, corrupt: only an intact object counts as a duplicate). A duplicate store renews the object's mtime (its last store) through
 * the open handle, then checks that `path` still names that same file. A prune that moved it aside
 * before the check makes this undefined (the caller writes it anew); one that moves it after sees
 * the renewal and puts it back (the protocol is in prune.ts). Undefined also when the file is not
 * ours to renew (EPERM: another user's): the caller replaces it with its own copy. On a read-only
 * store nothing can prune, so the object is returned as it is. The renewal is not fsynced: a
 * power cut may lose it, and then the object is older than it should be, never missing.
 */
export async function renewIfIntact (path: string, size: number, check: (handle: FileHandle) => Promise<boolean>): Promise<Stats | undefined> {
  const handle = await openIfExists(path)
  if (handle === undefined) return undefined
  try {
    const [stats, intact] = await Promise.all([handle.stat(), check(handle)])
    if (!stats.isFile() || stats.size !== size || !intact) return undefined
    try {
      await handle.utimes(stats.atime, renewalTime(stats.mtimeMs))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EROFS') return stats
      if (code === 'EPERM' || code === 'EACCES') return undefined
      throw err
    }
    const now = await stat(path).catch((err: unknown) => { if (isMissing(err)) return undefined; throw err })
    return now?.ino === stats.ino && now.dev === stats.dev ? stats : undefined
  } finally {
    await handle.close()
  }
}

/**
 * The new mtime of a renewed object: now, and in any case 2 ms past the old one, so that a prune
 * that read the old mtime (to the millisecond) sees a later one even with a clock step or a
 * coarse timestamp (one millisecond more survives the float rounding of `futimes`).
 */
export function renewalTime (oldMtimeMs: number): Date {
  return new Date(Math.max(Date.now(), Math.floor(oldMtimeMs) + 2))
}

/** When the object was first stored: its birth time where the filesystem records one, else its mtime. */
export function firstStoredAt (stats: Stats): Date {
  return stats.birthtimeMs > 0 ? stats.birthtime : stats.mtime
}

/** Whether an open file holds exactly `bytes`: one read of one byte more than expected. */
export async function holdsBytes (handle: FileHandle, bytes: Buffer): Promise<boolean> {
  const buffer = Buffer.allocUnsafe(bytes.length + 1)
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
  return bytesRead === bytes.length && buffer.subarray(0, bytesRead).equals(bytes)
}

/** Removes a file that may already be gone. */
export async function removeIfExists (path: string): Promise<void> {
  await unlink(path).catch((err: unknown) => { if (!isMissing(err)) throw err })
}

export function isMissing (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/** The entries of `dir`, none if it does not exist. */
export async function opendirIfExists (dir: string): Promise<AsyncIterable<Dirent>> {
  try {
    return await opendir(dir)
  } catch (err) {
    if (isMissing(err)) return (async function * () {})()
    throw err
  }
}
