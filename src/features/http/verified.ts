/**
 * The handler's record of local files whose bytes it hashed and found right, so that a frame asked
 * for again a moment later is not hashed again.
 *
 * What it trusts: that a file whose device, inode, size, mtime and ctime (nanoseconds) are what
 * they were when its bytes were hashed still holds those bytes. Any write through the filesystem
 * changes the ctime (restoring the mtime with `utimes` changes it too, and nobody can set it back),
 * and a file replaced by rename is another inode. For how long: `maxAgeMs` after the hash, then the
 * bytes are hashed again. What it cannot see: damage below the filesystem (a bad sector, a write
 * to the block device) within that time; a scrub (`verify`) or the next hash finds it.
 */
import { ConfigError } from '../../core/errors.js'

export interface VerifiedRecordOptions {
  /** How many files are remembered at most (the oldest verification is forgotten first). Default 4096. */
  maxEntries?: number
  /** How long a verification is trusted, in milliseconds. Default 30 000. */
  maxAgeMs?: number
}

/** What the handler learned when it last verified an object's file. */
export interface Verified {
  path: string
  /** Relative to the root: what an `X-Accel-Redirect` names. */
  key: string
  size: number
  mimeType: string
  lastModified?: Date
  /** `fileIdentity(stats)` of the file when it was hashed. */
  identity: string
  /** When it was hashed, by the monotonic clock (`performance.now()`: a clock stepped back extends no trust). */
  at: number
}

export class VerifiedRecord {
  private readonly entries = new Map<string, Verified>()
  private readonly maxEntries: number
  private readonly maxAgeMs: number

  constructor(options: VerifiedRecordOptions = {}) {
    this.maxEntries = atLeastZero('verified.maxEntries', options.maxEntries ?? 4096)
    this.maxAgeMs = atLeastZero('verified.maxAgeMs', options.maxAgeMs ?? 30_000)
  }

  /** The record for `sha256` if it is younger than `maxAgeMs`. */
  get(sha256: string, now = performance.now()): Verified | undefined {
    const entry = this.entries.get(sha256)
    if (entry === undefined) return undefined
    if (now - entry.at < this.maxAgeMs) return entry
    this.entries.delete(sha256)
    return undefined
  }

  set(sha256: string, entry: Verified): void {
    if (this.maxEntries === 0 || this.maxAgeMs === 0) return
    this.entries.delete(sha256) // re-inserted last: the map's order is the order of verification
    this.entries.set(sha256, entry)
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
  }

  forget(sha256: string): void {
    this.entries.delete(sha256)
  }

  get size(): number {
    return this.entries.size
  }
}

/** A count or a period, checked: `NaN` (a variable read as a number) would keep every entry, for ever. */
function atLeastZero(option: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw ConfigError.forOption(option, `expected a number of 0 or more, got ${String(value)}`)
  return value
}
