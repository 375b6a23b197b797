/**
 * A budget's candidates, spilled to a temporary file as the store is walked, and read back to
 * find and take its cut: one walk of the store in bounded memory (a second walk cost as much as
 * the first: 2.96× the `find` walk at a million objects, against 1.4× for an age limit). A line
 * per object, about 100 bytes: `{lastStoredAt ms} {size} {hash} {sha256 or -}`.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PruneCandidate } from './prune.js'

const CHUNK = 1 << 20

export class Spill {
  count = 0
  private text = ''
  private fd?: number

  private constructor (private readonly dir: string) {}

  /** A spill file in its own folder of the system's temporary directory. */
  static async create (): Promise<Spill> {
    return new Spill(await mkdtemp(join(tmpdir(), 'sai-prune-')))
  }

  private get path (): string {
    return join(this.dir, 'candidates')
  }

  add (object: PruneCandidate): void {
    this.text += `${object.lastStoredAt!.getTime()} ${object.size} ${object.hash} ${object.sha256 ?? '-'}\n`
    this.count++
    if (this.text.length >= CHUNK) this.flush()
  }

  /**
   * The objects spilled, in the order they came, that `visit` (told each one's time and size)
   * wants: the others are never made into objects (at a million lines, most are not wanted).
   * Parsed from the bytes, each string its own copy: a string split out of a chunk would keep the
   * whole chunk alive (a megabyte for each object a budget holds).
   */
  * read (visit: (time: number, size: number) => boolean): Generator<PruneCandidate> {
    this.flush()
    if (this.fd === undefined) return
    const fd = openSync(this.path, 'r')
    try {
      const chunk = Buffer.allocUnsafe(CHUNK)
      let carried = 0 // a line's start, read with the chunk before
      for (let got; (got = readSync(fd, chunk, carried, CHUNK - carried, null)) > 0;) {
        const bytes = chunk.subarray(0, carried + got)
        let line = 0
        for (let end; (end = bytes.indexOf(10, line)) !== -1; line = end + 1) {
          const a = bytes.indexOf(32, line)
          const b = bytes.indexOf(32, a + 1)
          const c = bytes.indexOf(32, b + 1)
          const [time, size] = [Number(bytes.toString('latin1', line, a)), Number(bytes.toString('latin1', a + 1, b))]
          if (!visit(time, size)) continue
          const sha256 = bytes.toString('latin1', c + 1, end)
          yield { hash: bytes.toString('latin1', b + 1, c), sha256: sha256 === '-' ? undefined : sha256, size, lastStoredAt: new Date(time) }
        }
        carried = bytes.copy(chunk, 0, line)
      }
    } finally {
      closeSync(fd)
    }
  }

  async remove (): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
    await rm(this.dir, { recursive: true, force: true })
  }

  private flush (): void {
    if (this.text === '') return
    this.fd ??= openSync(this.path, 'w', 0o600)
    writeSync(this.fd, this.text, null, 'latin1')
    this.text = ''
  }
}
