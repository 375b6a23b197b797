/**
 * A set of up to millions of object names in little memory: a SHA-256 (hex) in 8 bytes, its first 52 bits in a
 * sorted typed array (exact in a double; two frames share them once in 2^52), any other name (a CID) as a string.
 * `add` every name, `seal` once, then ask. About 8 MB a million, where a `Set` of the strings takes about 100.
 */
import { asSha256 } from './ref.js'

export class CompactNames {
  private prefixes = new Float64Array(1024)
  private count = 0
  private readonly others = new Map<string, number>()

  /** A name of an object: a SHA-256 in either case, or any other string (kept whole). */
  add(name: string): void {
    const sha256 = asSha256(name)
    if (sha256 === undefined) {
      this.others.set(name, -1)
      return
    }
    if (this.count === this.prefixes.length) {
      const grown = new Float64Array(this.count * 2)
      grown.set(this.prefixes)
      this.prefixes = grown
    }
    this.prefixes[this.count++] = prefixOf(sha256)
  }

  /** Sorted, each name once: how many names. After it, `add` is not called again. */
  seal(): number {
    const sorted = this.prefixes.subarray(0, this.count).sort()
    let unique = 0
    for (let i = 0; i < sorted.length; i++)
      if (i === 0 || sorted[i] !== sorted[unique - 1]) sorted[unique++] = sorted[i]!
    this.prefixes = sorted.subarray(0, unique) // no copy
    let at = unique
    for (const name of this.others.keys()) this.others.set(name, at++)
    return at
  }

  /** The name's place among the sealed names (0 to the count less one), or -1 if it is not one of them. */
  indexOf(name: string): number {
    const sha256 = asSha256(name)
    if (sha256 === undefined) return this.others.get(name) ?? -1
    return this.placeOf(prefixOf(sha256))
  }

  has(name: string): boolean {
    return this.indexOf(name) >= 0
  }

  /** Whether the SHA-256 whose first 64 bits are `first` and `second` (the words of its first 16 hex digits) is one. */
  hasSha256Words(first: number, second: number): boolean {
    return this.placeOf((first >>> 0) * 2 ** 20 + (second >>> 12)) >= 0
  }

  private placeOf(prefix: number): number {
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

/** The first 52 bits of a SHA-256 (hex). */
function prefixOf(sha256: string): number {
  return parseInt(sha256.slice(0, 13), 16)
}
