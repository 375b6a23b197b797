/**
 * The JSONL files a job keeps: its mapping (one record per item copied, what users load into a
 * database) and, beside it, what the job itself needs to remember (`import`'s files that are not
 * images). A line is appended once the work it records is durable, in one write, so lines never
 * interleave; reopening a file drops a torn last line (a kill mid-write), so a rerun appends to
 * whole lines only. No checkpoint: a rerun walks every item and skips those recorded, so an item
 * that appears anywhere in the order (a folder `10/` added before `2/`) is never passed over.
 */
import { createReadStream } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { InvalidInputError, StorageUnavailableError } from '../../core/errors.js'
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
  static async open(path: string, read: (entry: Record<string, unknown>) => void): Promise<JsonLines> {
    const handle = await open(path, 'a+').catch((err: unknown) => {
      throw InvalidInputError.unreadable(path, err, 'open the mapping')
    })
    try {
      const { size } = await handle.stat()
      let whole = 0
      const lines = createInterface({
        input: createReadStream('', { fd: handle.fd, autoClose: false, start: 0, end: Math.max(0, size - 1) }),
        crlfDelay: Infinity
      })
      for await (const line of size === 0 ? [] : lines) {
        const length = Buffer.byteLength(line) + 1
        if (whole + length > size) break // the last line, torn: no newline after it
        whole += length
        let entry: unknown
        try {
          entry = JSON.parse(line)
        } catch {
          continue
        }
        if (typeof entry === 'object' && entry !== null) read(entry as Record<string, unknown>)
      }
      if (whole !== size) await handle.truncate(whole)
    } catch (err) {
      await handle.close()
      throw err
    }
    return new JsonLines(handle, path)
  }

  /**
   * One line, in one write: lines never interleave. A file that cannot be written (ENOSPC, EIO) stops
   * the job: it is no item's failure.
   */
  async append(entry: Record<string, unknown>): Promise<void> {
    await this.handle.write(JSON.stringify(entry) + '\n').catch(this.unwritable)
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
 * The ids a mapping records as copied (`field` of each record with a `hash`), each with that hash
 * (where its object is), and its `{"mapping":…}` lines (stores.ts). Lines of mappings of earlier
 * releases that are not records (`{"checkpoint":…}`, `{…,"failed":…}`) are passed over; their
 * `{…,"notImage":true}` lines are given to `onNotImage`.
 */
export async function openMapping(
  path: string,
  field: string,
  onNotImage?: (id: string) => void
): Promise<{ file: JsonLines; copied: Map<string, string>; of: MappingOf[] }> {
  const copied = new Map<string, string>()
  const of: MappingOf[] = []
  const file = await JsonLines.open(path, entry => {
    const id = entry[field]
    const mapping = mappingOfLine(entry)
    if (mapping !== undefined) of.push(mapping)
    if (typeof id !== 'string') return
    // (a migrate's source and target are mostly one SHA-256: one string held, not two)
    if (typeof entry.hash === 'string') copied.set(id, entry.hash === id ? id : entry.hash)
    else if (entry.notImage === true) onNotImage?.(id)
  })
  return { file, copied, of }
}
