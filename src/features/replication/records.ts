/**
 * The state folder's whole-file records (reconcile.json, verify.json, watch.json, failing/*.json):
 * written to `<name>.tmp` and renamed over, so that a reader sees the last record or the one
 * before, never half of one; read as "none" when absent or unreadable (a record is a report for
 * `status` and monitors, never the truth a copy depends on).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

export async function writeRecord(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(`${path}.tmp`, JSON.stringify(value))
  await rename(`${path}.tmp`, path)
}

/** As `writeRecord`, for the synchronous writers: the copier's failing state, the watcher's health. */
export function writeRecordSync(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(`${path}.tmp`, JSON.stringify(value))
  renameSync(`${path}.tmp`, path)
}

export function readRecord<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return undefined
  }
}
