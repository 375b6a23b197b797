import { open, rename, stat, truncate, utimes, writeFile } from 'node:fs/promises'

/** The three ways a stored file changes under a server: each must be noticed. */
export const DAMAGES = {
  /** Another process writes other bytes beside it and renames them over it (a new inode). */
  replaced: async (path: string, other: Buffer): Promise<void> => {
    await writeFile(`${path}.other`, other)
    await rename(`${path}.other`, path)
  },
  /** Cut to 10 bytes in place (same inode). */
  truncated: async (path: string): Promise<void> => {
    await truncate(path, 10)
  },
  /** One bit flipped in place, then the mtime put back as it was: only the ctime tells. */
  flipped: async (path: string): Promise<void> => {
    const before = await stat(path)
    const file = await open(path, 'r+')
    try {
      const byte = Buffer.alloc(1)
      await file.read(byte, 0, 1, Math.floor(before.size / 2))
      byte[0] = byte[0]! ^ 0x10
      await file.write(byte, 0, 1, Math.floor(before.size / 2))
    } finally {
      await file.close()
    }
    await utimes(path, before.atime, before.mtime)
    const after = await stat(path)
    if (after.mtimeMs !== before.mtimeMs || after.size !== before.size)
      throw new Error('the flip changed the mtime or size')
  }
} satisfies Record<string, (path: string, other: Buffer) => Promise<void>>

/** Whole-second times on the file, so that putting the mtime back is exact to the nanosecond. */
export async function wholeSecondTimes(path: string): Promise<void> {
  const t = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000)
  await utimes(path, t, t)
}
