/**
 * `verify --expect-file F` / `--expect-sql QUERY`: the frames another record says the store holds
 * (the dashboard's table), each looked for. A store without replicas keeps no other record of what
 * it held: a frame removed by hand, or lost with a disk, would be reported by nothing else.
 * One listing of the store (names only), with 8 bytes per expected frame (the first 52 bits of its
 * SHA-256, sorted); the refs are read a second time only to name the ones missing, and each of those
 * is asked for once more (an evicted frame a replica holds, one stored since the listing: not lost).
 */
import { asSha256 } from '../core/ref.js'
import type { ImageStorage } from '../core/types.js'
import { inSubset } from '../core/verify-report.js'
import { plural, UsageError } from './context.js'
import { badLinesText, readRefLists } from './ref-lists.js'

export interface Expected {
  files: string[]
  sql?: string
}

/** The expected frames (in `subset`, if given) and the refs of those the store does not hold. */
export async function expectedMissing(
  storage: ImageStorage,
  expected: Expected,
  options: { subset?: { index: number; count: number }; signal?: AbortSignal }
): Promise<{ frames: number; missing: string[] }> {
  const sought = new Sought()
  await read(expected, ref => sought.add(ref, options.subset))
  const frames = sought.seal()
  for await (const entry of storage.list({ signal: options.signal })) sought.found(entry.hash, entry.sha256)
  if (!sought.anyMissing()) return { frames, missing: [] }
  const candidates = new Set<string>()
  await read(expected, ref => {
    if (sought.isMissing(ref)) candidates.add(asSha256(ref) ?? ref)
  })
  const missing: string[] = []
  for (const ref of candidates) if (!(await storage.exists(ref, { signal: options.signal }))) missing.push(ref)
  return { frames, missing: missing.sort() }
}

async function read(expected: Expected, onRef: (ref: string) => void): Promise<void> {
  const { bad, badLines } = await readRefLists(expected.files, { query: expected.sql, option: '--expect-sql' }, onRef)
  if (badLines > 0)
    throw new UsageError(
      `${plural(badLines, 'line')} of --expect-file or --expect-sql name no object (a ref is a SHA-256 in hex, a ` +
        `key such as ab/cd/<sha256>.jpg, or a CID); nothing was checked:${badLinesText(bad, badLines)}`
    )
}

/** The expected frames: SHA-256 prefixes, sorted in a typed array, each marked when listed; CIDs as strings. */
class Sought {
  private prefixes = new Float64Array(1024)
  private count = 0
  private seen = new Uint8Array(0)
  private readonly others = new Map<string, boolean>()

  add(ref: string, subset: { index: number; count: number } | undefined): void {
    const sha256 = asSha256(ref)
    if (sha256 === undefined) {
      this.others.set(ref, false)
      return
    }
    if (!inSubset(sha256, subset)) return
    if (this.count === this.prefixes.length) {
      const grown = new Float64Array(this.count * 2)
      grown.set(this.prefixes)
      this.prefixes = grown
    }
    this.prefixes[this.count++] = prefixOf(sha256)
  }

  /** Sorted, each frame once: how many frames are expected. */
  seal(): number {
    const sorted = this.prefixes.subarray(0, this.count).sort()
    let unique = 0
    for (let i = 0; i < sorted.length; i++)
      if (i === 0 || sorted[i] !== sorted[unique - 1]) sorted[unique++] = sorted[i]!
    this.prefixes = sorted.subarray(0, unique) // no copy: 8 MB less at a million frames
    this.seen = new Uint8Array(unique)
    return unique + this.others.size
  }

  found(hash: string, sha256: string | undefined): void {
    if (this.others.has(hash)) this.others.set(hash, true)
    if (sha256 === undefined) return
    const i = this.indexOf(prefixOf(sha256))
    if (i >= 0) this.seen[i] = 1
  }

  anyMissing(): boolean {
    return this.seen.includes(0) || [...this.others.values()].includes(false)
  }

  isMissing(ref: string): boolean {
    const sha256 = asSha256(ref)
    if (sha256 === undefined) return this.others.get(ref) === false
    const i = this.indexOf(prefixOf(sha256))
    return i >= 0 && this.seen[i] === 0
  }

  private indexOf(prefix: number): number {
    let [low, high] = [0, this.prefixes.length - 1]
    while (low <= high) {
      const mid = (low + high) >>> 1
      const value = this.prefixes[mid]!
      if (value === prefix) return mid
      if (value < prefix) low = mid + 1
      else high = mid - 1
    }
    return -1
  }
}

/** The first 52 bits of a SHA-256 (hex), exact in a double: two frames share them once in 2^52. */
function prefixOf(sha256: string): number {
  return parseInt(sha256.slice(0, 13), 16)
}
