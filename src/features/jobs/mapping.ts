/**
 * The JSONL files a job keeps: its mapping (one record per item copied, what users load into a
 * database) and, beside it, what the job itself needs to remember (`import`'s files that are not
 * images). A line is appended once the work it records is durable, in one write, so lines never
 * interleave; reopening a file drops a torn last line (a kill mid-write), so a rerun appends to
 * whole lines only. No checkpoint: a rerun walks every item and skips those recorded, so an item
 * that appears anywhere in the order (a folder `10/` added before `2/`) is never passed over.
 */
import { writeSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { InvalidInputError, StorageUnavailableError } from '../../core/errors.js'
import { RecordedItems } from './recorded.js'
import { mappingOfLine, type MappingOf } from './stores.js'

export class JsonLines {
  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string
  ) {}

  /**
   * Opens (or creates) `path`, calling `read` with each whole line's object (lines that are not
   * JSON are passed over).
   */
  static async open(
    path: string,
    read: (entry: Record<string, unknown>) => void,
    readOnly = false
  ): Promise<JsonLines> {
    const handle = await open(path, readOnly ? 'r' : 'a+').catch((err: unknown) => {
      throw InvalidInputError.unreadable(path, err, 'open the mapping')
    })
    try {
      const { size } = await handle.stat()
      const whole = await eachLine(handle, size, line => {
        let entry: unknown
        try {
          entry = JSON.parse(line)
        } catch {
          return
        }
        if (typeof entry === 'object' && entry !== null) read(entry as Record<string, unknown>)
      })
      if (whole !== size && !readOnly) await handle.truncate(whole) // the last line, torn: no newline after it
    } catch (err) {
      await handle.close()
      throw err
    }
    return new JsonLines(handle, path)
  }

  /**
   * One line, in one write: lines never interleave. A file that cannot be written (ENOSPC, EIO) stops
   * the job: it is no item's failure. Synchronous: one small write per item, cheaper than a thread-pool
   * round trip (bench/RESULTS-replication-cli.md, session 24).
   */
  async append(entry: Record<string, unknown>): Promise<void> {
    const line = Buffer.from(JSON.stringify(entry) + '\n')
    try {
      // a short write (a disk filling up) is written on: the next write says why it cannot
      for (let at = 0; at < line.length; ) at += writeSync(this.handle.fd, line, at)
    } catch (err) {
      this.unwritable(err)
    }
  }

  async close(): Promise<void> {
    try {
      await this.handle.sync().catch(this.unwritable)
    } finally {
      await this.handle.close()
    }
  }

  private readonly unwritable = (err: unknown): never => {
    const { message } = InvalidInputError.unreadable(this.path, err, 'write')
    throw new StorageUnavailableError(message, this.path, { cause: err })
  }
}

/**
 * Calls `onLine` with each line of the first `size` bytes that a newline ends (without it), read a
 * MiB at a time: how many bytes those lines take.
 */
async function eachLine(handle: FileHandle, size: number, onLine: (line: string) => void): Promise<number> {
  const chunk = Buffer.allocUnsafe(Math.min(size, 1 << 20))
  let carry = Buffer.alloc(0) // the start of a line the chunk before ended in
  let position = 0
  let whole = 0
  while (position < size) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, size - position), position)
    if (bytesRead === 0) break
    position += bytesRead
    const bytes =
      carry.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([carry, chunk.subarray(0, bytesRead)])
    let start = 0
    for (let end = bytes.indexOf(10); end >= 0; end = bytes.indexOf(10, start)) {
      onLine(bytes.toString('utf8', start, end))
      start = end + 1
    }
    whole = position - (bytes.length - start)
    carry = Buffer.from(bytes.subarray(start)) // a copy: the chunk is read into again
  }
  return whole
}

/**
 * The ids a mapping records as copied (`field` of each record with a `hash`), each with that hash
 * (where its object is), and its `{"mapping":…}` lines (stores.ts). Lines of mappings of earlier
 * releases that are not records (`{"checkpoint":…}`, `{…,"failed":…}`) are passed over; their
 * `{…,"notImage":true}` lines are given to `onNotImage`.
 */
export async function openMapping(
  path: string,
  field: string,
  onNotImage?: (id: string) => void,
  readOnly = false
): Promise<{ file: JsonLines; copied: RecordedItems; of: MappingOf[] }> {
  const copied = new RecordedItems()
  const of: MappingOf[] = []
  const file = await JsonLines.open(
    path,
    entry => {
      const id = entry[field]
      const mapping = mappingOfLine(entry)
      if (mapping !== undefined) of.push(mapping)
      if (typeof id !== 'string') return
      if (typeof entry.hash === 'string') copied.set(id, entry.hash)
      else if (entry.notImage === true) onNotImage?.(id)
    },
    readOnly
  )
  return { file, copied, of }
}
