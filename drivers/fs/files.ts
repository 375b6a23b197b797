/** Small filesystem steps the driver and `verify` share. */
import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import type { Stats } from 'node:fs'

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
    const stats = await handle.stat()
    return stats.isFile() && stats.size === size && await check(handle) ? stats : undefined
  } finally {
    await handle.close()
  }
}

export function isMissing (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}
