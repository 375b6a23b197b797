/**
 * `verify --expect-file F` / `--expect-sql QUERY`: the frames another record says the store holds
 * (the dashboard's table), each looked for. A store without replicas keeps no other record of what
 * it held: a frame removed by hand, or lost with a disk, would be reported by nothing else.
 * One listing of the store (names only), with 8 bytes per expected frame (the first 52 bits of its
 * SHA-256, sorted); the refs are read a second time only to name the ones missing, and each of those
 * is asked for once more (an evicted frame a replica holds, one stored since the listing: not lost).
 */
import { CompactNames } from '../core/compact-names.js'
import { asSha256 } from '../core/ref.js'
import type { ImageStorage } from '../core/types.js'
import { inSubset } from '../core/verify-report.js'
import { plural, UsageError } from './context.js'
import { badLinesText, readRefLists } from './ref-lists.js'

export interface Expected {
  files: string[]
  sql?: string
}

/** The expected frames (in `subset`, if given), read before anything is checked: a bad line stops the command. */
export async function expectedFrames(expected: Expected, subset?: { index: number; count: number }): Promise<Sought> {
  const sought = new Sought()
  await read(expected, ref => sought.add(ref, subset))
  sought.seal()
  return sought
}

/** The number of expected frames, and the refs of those the store does not hold. */
export async function expectedMissing(
  storage: ImageStorage,
  expected: Expected,
  sought: Sought,
  options: { signal?: AbortSignal }
): Promise<{ frames: number; missing: string[] }> {
  const frames = sought.count
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
  const { bad, badLines } = await readRefLists(
    expected.files,
    { query: expected.sql, option: '--expect-sql', files: 'the --expect-file' },
    onRef
  )
  if (badLines > 0)
    throw new UsageError(
      `${plural(badLines, 'line')} of --expect-file or --expect-sql name no object (a ref is a SHA-256 in hex, a ` +
        `key such as ab/cd/<sha256>.jpg, or a CID); nothing was checked:${badLinesText(bad, badLines)}`
    )
}

/** The expected frames (CompactNames: 8 bytes a SHA-256), each marked when listed. */
export class Sought {
  private readonly names = new CompactNames()
  private seen = new Uint8Array(0)
  count = 0

  add(ref: string, subset: { index: number; count: number } | undefined): void {
    const sha256 = asSha256(ref)
    if (sha256 === undefined || inSubset(sha256, subset)) this.names.add(sha256 ?? ref)
  }

  /** Each frame once: how many frames are expected. */
  seal(): void {
    this.count = this.names.seal()
    this.seen = new Uint8Array(this.count)
  }

  found(hash: string, sha256: string | undefined): void {
    for (const name of sha256 === undefined || sha256 === hash ? [hash] : [hash, sha256]) {
      const i = this.names.indexOf(name)
      if (i >= 0) this.seen[i] = 1
    }
  }

  anyMissing(): boolean {
    return this.seen.includes(0)
  }

  isMissing(ref: string): boolean {
    const i = this.names.indexOf(asSha256(ref) ?? ref)
    return i >= 0 && this.seen[i] === 0
  }
}
