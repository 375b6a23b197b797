/**
 * A file's identity as this library compares it, to tell that a file is the one it was: its device, inode, size,
 * mtime and ctime (nanoseconds). Any write through the filesystem changes the ctime (restoring the mtime with `utimes`
 * changes it too, and nobody can set it back), and a file replaced by a rename is another inode.
 */
import type { BigIntStats } from 'node:fs'

export function fileIdentity(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`
}

/** When the file last changed, in Unix ms: its ctime or mtime, whichever is later (a clock can set the mtime ahead). */
export function changedAtMs(stats: BigIntStats): number {
  return Math.max(Number(stats.ctimeMs), Number(stats.mtimeMs))
}
