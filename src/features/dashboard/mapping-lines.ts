/**
 * An import mapping read for the back-fill: each line's execution id (its file's name), SHA-256 and file (under the
 * imported folder's name, as the dashboard's `original_path` names it), a batch at a time.
 */
import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { createInterface } from 'node:readline'
import { InvalidInputError } from '../../core/errors.js'
import type { BackfillReport } from './backfill.js'

const HEX64 = /^[0-9a-f]{64}$/

export interface Entry {
  sha256: string
  /** The file, under the imported folder's name: `original/410/410000.jpg`. */
  path: string
}

/** The imported folder's name, from a mapping's first line (`{"mapping":{"from":{"folder":…}}}`); '' if none. */
function folderOf(line: string): string {
  try {
    const folder = (JSON.parse(line) as { mapping?: { from?: { folder?: unknown } } }).mapping?.from?.folder
    return typeof folder === 'string' ? basename(folder) : ''
  } catch {
    return ''
  }
}

/** `{"source":"410/410000.jpg","sha256":"…"}` of a mapping of `original/` → execution 410000. */
function parseLine(line: string, folder: string): (Entry & { executionId: string }) | undefined {
  let entry: { source?: unknown; sha256?: unknown; hash?: unknown }
  try {
    entry = JSON.parse(line)
  } catch {
    return undefined // a torn last line of an interrupted import
  }
  // mappings before 0.2 had only `hash` (fs: the SHA-256)
  const sha256 = typeof entry.sha256 === 'string' ? entry.sha256 : entry.hash
  const match = typeof entry.source === 'string' ? /^(\d{1,18})\.[a-z]+$/i.exec(basename(entry.source)) : null
  if (match === null || typeof sha256 !== 'string' || !HEX64.test(sha256)) return undefined
  const path = folder === '' ? (entry.source as string) : `${folder}/${entry.source as string}`
  return { executionId: match[1]!.replace(/^0+(?=\d)/, ''), sha256, path }
}

/**
 * The mapping's lines, as batches of execution id → SHA-256 (an id that comes again with another
 * SHA-256 starts a new batch); lines that name no execution are counted as unusable. A signal ends
 * it, without the last batch.
 */
export async function* batches(
  mapping: string,
  batchSize: number,
  report: BackfillReport,
  signal: AbortSignal | undefined
): AsyncGenerator<Map<string, Entry>> {
  let batch = new Map<string, Entry>()
  let folder = '' // the imported folder's name (`original`), from the mapping's first line: paths are under it
  const lines = createInterface({ input: createReadStream(mapping), crlfDelay: Infinity })
  try {
    for await (const line of lines) {
      if (signal?.aborted === true) {
        report.interrupted = true
        return
      }
      // the mapping's own line (the stores it is for); what mappings of earlier releases also held: a
      // job's checkpoint, a file that is not an image, a failure
      if (line.startsWith('{"mapping":')) folder = folderOf(line)
      if (line.trim() === '' || /^\{"(mapping|checkpoint)":|"notImage":true|"failed":"ERR_/.test(line)) continue
      report.lines++
      const entry = parseLine(line, folder)
      if (entry === undefined) report.unusable++
      else {
        // another file for the same execution (original/ and processed/ both imported): in the next
        // batch, so the database reports it as a conflict rather than this batch keep the last silently
        const before = batch.get(entry.executionId)
        if (before !== undefined && before.sha256 !== entry.sha256) {
          yield batch
          batch = new Map()
        }
        batch.set(entry.executionId, entry)
      }
      if (batch.size >= batchSize) {
        yield batch
        batch = new Map()
      }
    }
  } catch (err) {
    // the file's own failure (ENOENT, EACCES, EISDIR): the caller's input, typed, not "a bug"
    if (typeof (err as NodeJS.ErrnoException)?.code === 'string' && (err as NodeJS.ErrnoException).syscall)
      throw InvalidInputError.unreadable(mapping, err, 'read the mapping')
    throw err
  } finally {
    lines.close()
  }
  if (batch.size > 0) yield batch
}
