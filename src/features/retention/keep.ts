/**
 * The objects a prune must never delete, as one test, in bounded memory: a SHA-256 is held as a
 * number of its first 52 bits (8 bytes in a Set, against about 100 for its hex), other refs (CIDs)
 * as strings. Two hashes that share 52 bits are a match: a rare false match keeps an object, never
 * deletes one (1 in 4,000 runs at 2 million objects and a million kept refs).
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { InvalidInputError } from '../../core/errors.js'
import { asSha256, canonicalRef, isCid } from '../../core/ref.js'
import { shown } from '../../core/checks.js'

export interface KeepCandidate {
  hash: string
  sha256?: string
  size: number
  lastStoredAt?: Date
}

export type Keep =
  | RefSet
  | Iterable<string>
  | AsyncIterable<string>
  | ((object: KeepCandidate) => boolean | Promise<boolean>)

export class RefSet {
  private readonly digests = new Set<number>()
  private readonly others = new Set<string>()

  /**
   * A SHA-256 (either case), a key path (`ab/cd/{sha256}.jpg`, a store result's `key`), or a CID: a raw sha2-256
   * one as its SHA-256, any other in the spelling IPFS lists. Anything else is ERR_INVALID_INPUT: a ref that
   * matched nothing would protect nothing, and the prune would delete what the caller meant to keep.
   */
  add(ref: string): void {
    const text = typeof ref === 'string' ? ref.trim() : ''
    if (typeof ref === 'string' && (text === '' || text.startsWith('#'))) return
    const sha256 = asSha256(text) ?? keyHash(text) ?? canonicalRef(text)
    if (sha256 === undefined)
      throw new InvalidInputError(`keep: ${shown(ref)} names no object (expected a SHA-256, a key path or a CID)`)
    const digest = asSha256(sha256)
    if (digest === undefined) this.others.add(sha256)
    else this.digests.add(prefixOf(digest))
  }

  /** Whether the set holds `ref`: a SHA-256, or a driver's hash as its listing spells it. */
  has(ref: string | undefined): boolean {
    if (ref === undefined) return false
    const sha256 = asSha256(ref)
    return sha256 === undefined ? this.others.has(ref) : this.digests.has(prefixOf(sha256))
  }

  get size(): number {
    return this.digests.size + this.others.size
  }
}

function prefixOf(sha256: string): number {
  return parseInt(sha256.slice(0, 13), 16)
}

/** `keep` as one test: refs (SHA-256 hex in any case, or the driver's hash), or the predicate. */
export async function keeper(keep: Keep | undefined): Promise<(object: KeepCandidate) => boolean | Promise<boolean>> {
  if (keep === undefined) return () => false
  if (typeof keep === 'function') return keep
  let refs = typeof keep === 'string' ? [keep] : keep // one ref, not its characters
  if (!(refs instanceof RefSet)) {
    const set = new RefSet()
    for await (const ref of refs) set.add(ref)
    refs = set
  }
  const set = refs
  if (set.size === 0) return () => false // a million objects: no test each
  return object => set.has(object.hash) || (object.sha256 !== object.hash && set.has(object.sha256))
}

/** A line of a list file that names no object: where, and what it said. */
export interface BadLine {
  file: string
  line: number
  text: string
}

/**
 * What a line of a list file names: a SHA-256, another ref (a CID), nothing (blank, `#`), or
 * undefined if it is no ref.
 */
export function parseListLine(line: string): { sha256?: string; other?: string } | undefined {
  const text = line.trim()
  if (text === '' || text.startsWith('#')) return {}
  const sha256 = asSha256(text) ?? keyHash(text)
  if (sha256 !== undefined) return { sha256 }
  if (isCid(text)) return { other: text }
  return undefined
}

/** The hash a key path names in a prefix layout of any depth: `ab/cd/abcd….jpg`, `abcd….jpg`, `abc/abcd….jpg`. */
function keyHash(text: string): string | undefined {
  const match = /^((?:[0-9a-fA-F]+\/)*)([0-9a-fA-F]{64})\.jpg$/i.exec(text)
  if (match === null) return undefined
  const hash = match[2]!.toLowerCase()
  return hash.startsWith(match[1]!.replaceAll('/', '').toLowerCase()) ? hash : undefined
}

/**
 * Adds the refs of each file (one per line: a SHA-256 in either case, a key path, a CID; blank
 * lines and `#` comments skipped) to `set`. A line that names no object is returned in `bad`
 * (the first 10; `badLines` counts them all) and protects nothing: the caller decides whether to go on.
 */
export async function readRefFiles<S extends { add: (ref: string) => void } = RefSet>(
  files: string[],
  set: S = new RefSet() as unknown as S,
  what = 'the keep file'
): Promise<{ set: S; bad: BadLine[]; badLines: number }> {
  const bad: BadLine[] = []
  let badLines = 0
  for (const file of files) {
    let number = 0
    try {
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
        number++
        const ref = parseListLine(line)
        if (ref === undefined) {
          if (badLines++ < 10)
            bad.push({ file, line: number, text: line.length > 100 ? `${line.slice(0, 100)}…` : line })
        } else if (ref.sha256 !== undefined || ref.other !== undefined) set.add(ref.sha256 ?? ref.other!)
      }
    } catch (err) {
      throw InvalidInputError.unreadable(file, err, `read ${what}`)
    }
  }
  return { set, bad, badLines }
}
