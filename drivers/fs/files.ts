/** Small filesystem steps the driver and `verify` share. */
import { createHash } from 'node:crypto'
import { open, unlink, type FileHandle } from 'node:fs/promises'
import { futimesSync, statSync, type Stats } from 'node:fs'

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
 * The stored object's stat if the file at `path` is intact by `check`, else undefined
 * (absent, truncated, corrupt): only an intact object counts as a duplicate.
 */
export async function statIfIntact (path: string, size: number, check: (handle: FileHandle) => Promise<boolean>): Promise<Stats | undefined> {
  const handle = await openIfExists(path)
  if (handle === undefined) return undefined
  try {
    const [stats, intact] = await Promise.all([handle.stat(), check(handle)])
    if (!(stats.isFile() && stats.size === size && intact)) return undefined
    // A duplicate store is a store: the object is young again (retention ages objects by mtime).
    // Then it must still be in place: a prune sets a candidate aside before it deletes it, and puts
    // it back if it sees the new mtime; if the name is empty now, the caller writes the bytes anew.
    // (+0.5 ms: seconds as a double lose a little on the way to nanoseconds, and must not fall back to the old ms)
    const renewed = (Math.max(Date.now(), Math.floor(stats.mtimeMs) + 1) + 0.5) / 1000
    try {
      futimesSync(handle.fd, stats.atimeMs / 1000, renewed) // microseconds: no thread-pool round trip
    } catch (err) {
      // a read-only mount, or a file of another user (the Python service's): intact, not renewed
      if (['EROFS', 'EPERM', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) return stats
      throw err
    }
    const now = statIfThere(path)
    return now !== undefined && now.ino === stats.ino && now.dev === stats.dev ? stats : undefined
  } finally {
    await handle.close()
  }
}

/** When the object was first stored: its birth time where the filesystem keeps one, else its mtime. */
export function firstStored (stats: Stats): Date {
  return stats.birthtimeMs > 0 ? stats.birthtime : stats.mtime
}

function statIfThere (path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
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
