/**
 * A budget's candidates, spilled to a temporary file as the store is walked, and read back to
 * find and take its cut: one walk of the store in bounded memory (a second walk cost as much as
 * the first: 2.96× the `find` walk at a million objects, against 1.4× for an age limit). A record
 * per object, about 90 bytes: lastStoredAt (ms) and size as doubles, the hash (its length, then its
 * characters), then 0 (no SHA-256 known), 1 (the hash is the SHA-256) or 2 and the SHA-256. Binary:
 * as text lines, formatting and parsing the numbers and a string per line cost a third of the walk.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PruneCandidate } from './types.js'

const CHUNK = 1 << 20
const NO_SHA256 = 0
const SAME = 1
const OWN = 2

export class Spill {
  count = 0
  private readonly out = Buffer.allocUnsafe(CHUNK)
  private filled = 0
  private fd?: number

  private constructor(private readonly dir: string) {}

  /** A spill file in its own folder of the system's temporary directory. */
  static async create(): Promise<Spill> {
    return new Spill(await mkdtemp(join(tmpdir(), 'sai-prune-')))
  }

  private get path(): string {
    return join(this.dir, 'candidates')
  }

  add(object: PruneCandidate): void {
    const { hash, sha256 } = object
    const own = sha256 !== undefined && sha256 !== hash
    if (this.filled + 18 + hash.length + (own ? sha256.length : 0) > CHUNK) this.flush()
    const { out } = this
    let at = this.filled
    at = out.writeDoubleLE(object.lastStoredAt!.getTime(), at)
    at = out.writeDoubleLE(object.size, at)
    out[at++] = hash.length
    at += out.write(hash, at, 'latin1')
    out[at++] = sha256 === undefined ? NO_SHA256 : own ? OWN : SAME
    if (own) at += out.write(sha256, at, 'latin1')
    this.filled = at
    this.count++
  }

  /**
   * The objects spilled, in the order they came, that `visit` (told each one's time and size)
   * wants: the others are never made into objects (at a million records, most are not wanted).
   * Each string is its own copy, never a slice of a chunk that it would keep alive.
   */
  *read(visit: (time: number, size: number) => boolean): Generator<PruneCandidate> {
    this.flush()
    if (this.fd === undefined) return
    const fd = openSync(this.path, 'r')
    try {
      const chunk = Buffer.allocUnsafe(CHUNK)
      let carried = 0 // a record's start, read with the chunk before
      for (let got; (got = readSync(fd, chunk, carried, CHUNK - carried, null)) > 0; ) {
        const end = carried + got
        let at = 0
        for (;;) {
          if (at + 17 > end) break
          const hashEnd = at + 17 + chunk[at + 16]!
          if (hashEnd + 1 > end) break
          const kind = chunk[hashEnd]!
          const next = hashEnd + 1 + (kind === OWN ? 64 : 0)
          if (next > end) break
          const [time, size] = [chunk.readDoubleLE(at), chunk.readDoubleLE(at + 8)]
          if (visit(time, size)) {
            const hash = chunk.toString('latin1', at + 17, hashEnd)
            yield {
              hash,
              sha256:
                kind === NO_SHA256 ? undefined : kind === SAME ? hash : chunk.toString('latin1', hashEnd + 1, next),
              size,
              lastStoredAt: new Date(time)
            }
          }
          at = next
        }
        carried = chunk.copy(chunk, 0, at, end)
      }
    } finally {
      closeSync(fd)
    }
  }

  async remove(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
    await rm(this.dir, { recursive: true, force: true })
  }

  private flush(): void {
    if (this.filled === 0) return
    this.fd ??= openSync(this.path, 'w', 0o600)
    for (let at = 0; at < this.filled; ) at += writeSync(this.fd, this.out, at, this.filled - at)
    this.filled = 0
  }
}
