/**
 * The JSONL mapping that `import` and `migrate` write: one object per line, appended once the work
 * it records is durable. Reopening it drops a torn last line (a kill mid-write), so a resumed run
 * appends to whole lines only, and tells which work is already done.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { InvalidInputError } from '../core/errors.js'

export class Mapping {
  private constructor (private readonly handle: FileHandle, readonly entries: Array<Record<string, unknown>>) {}

  static async open (path: string): Promise<Mapping> {
    const handle = await open(path, 'a+').catch((err: unknown) => { throw InvalidInputError.unreadable(path, err, 'open the mapping') })
    const text = (await handle.readFile()).toString('utf8')
    const whole = text.slice(0, text.lastIndexOf('\n') + 1)
    if (whole.length !== Buffer.byteLength(text)) await handle.truncate(Buffer.byteLength(whole))
    const entries = whole.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as Record<string, unknown>)
    return new Mapping(handle, entries)
  }

  /** Values of `field` in the lines already written: the work to skip. */
  done (field: string): Set<unknown> {
    return new Set(this.entries.map(entry => entry[field]))
  }

  /** One line, in one write: lines never interleave. */
  async append (entry: Record<string, unknown>): Promise<void> {
    await this.handle.write(JSON.stringify(entry) + '\n')
  }

  async close (): Promise<void> {
    await this.handle.sync()
    await this.handle.close()
  }
}
