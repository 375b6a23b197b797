/**
 * The state folder's whole-file records (reconcile.json, verify.json, watch.json, failing/*.json):
 * written to `<name>.<pid>.<n>.tmp` and renamed over, so that a reader sees the last record or the one
 * before, never half of one; read as "none" when absent or unreadable (a record is a report for
 * `status` and monitors, never the truth a copy depends on).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { open, rename, rm, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fsyncDir, makeDirDurably } from '../../core/durable-files.js'

/**
 * A scan's record (reconcile.json, verify.json), durably: the temp fsynced before the rename, the folder
 * after it. Else a power cut can leave an empty file renamed over the last record, which reads as none, and
 * `status` falls back to an older scan (perhaps one that found nothing lost) and says clean (test/crash).
 */
export async function writeRecord(path: string, value: unknown): Promise<void> {
  await makeDirDurably(dirname(path))
  const temp = tempOf(path)
  try {
    await writeFile(temp, JSON.stringify(value))
    await placeDurably(temp, path)
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {}) // (a full disk: no temp left per try)
    throw err
  }
}

let temps = 0

/**
 * A temp of this write's own: two writers of one record (a reconcile and another process's settle, two watchers)
 * each rename theirs; one temp name for all let one rename the other's half-written file, or fail on ENOENT.
 */
function tempOf(path: string): string {
  return `${path}.${process.pid}.${++temps}.tmp`
}

/**
 * A file written whole at `temp` (a record, reconcile-below's list) put in place at `path` durably, as
 * `writeRecord` does: fsynced before the rename, the folder after it.
 */
export async function placeDurably(temp: string, path: string): Promise<void> {
  const file = await open(temp, 'r')
  try {
    await file.sync()
  } finally {
    await file.close()
  }
  await rename(temp, path)
  await fsyncDir(dirname(path))
}

/**
 * As `writeRecord`, not durable, for the synchronous writers: the copier's failing state, the watcher's
 * health (written on every pass or failure, so an fsync would stop the event loop; the next one rewrites it).
 */
export function writeRecordSync(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true })
  const temp = tempOf(path)
  try {
    writeFileSync(temp, JSON.stringify(value))
    renameSync(temp, path)
  } catch (err) {
    rmSync(temp, { force: true })
    throw err
  }
}

export function readRecord<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return undefined
  }
}
