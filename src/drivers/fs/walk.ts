/**
 * The walk of the tree, in key order (which is SHA-256 order), at the speed of the disk's
 * metadata: synchronous readdir and stat (a thread-pool round trip per call is far slower), each
 * first-level shard folder one unit of work, read in a worker thread, two or more at once, and
 * delivered in order. A small store is walked inline (a worker costs 30 ms to start). The same
 * workers hash for `verify`. Figures: bench/RESULTS.md ("the walk", 2026-12-04).
 */
import * as crypto from 'node:crypto'
import { createHash } from 'node:crypto'
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import type { ShardingStrategy } from '../../core/sharding.js'
import { Pool, type UnitJob, type UnitResult } from './walk-workers.js'

export interface WalkOptions {
  /** Only keys whose SHA-256 (as the key names it) starts with this. */
  prefix?: string
  /** Only keys that sort after this one's place: the SHA-256 hex to resume after. */
  after?: string
  subset?: { index: number; count: number }
  /** Read and hash every file (for verify). */
  hash?: boolean
  signal?: AbortSignal
  /** Worker threads for a large store. Default: the cores, 2 to 4. */
  workers?: number
}

/**
 * Walk up to 8 units inline, until they held 64 files: a large store, whose workers walk the rest
 * (not 8 of its units: their columns outlive the young generation and grow the heap).
 */
const INLINE_UNITS = 8
const LARGE_STORE_FILES = 64

/**
 * Every file below the shard folders, a unit (first-level folder) at a time, in key order. The
 * root's other entries (`.tmp`, `.quarantine`, ...) are not walked.
 */
export async function* walkUnits(
  root: string,
  sharding: ShardingStrategy,
  options: WalkOptions = {}
): AsyncGenerator<UnitResult> {
  const units = planUnits(root, sharding, options)
  const job = {
    root,
    sharding: sharding.descriptor,
    hash: options.hash === true,
    subset: options.subset,
    after: afterKey(sharding, options.after),
    prefix: options.prefix ?? ''
  }
  let pool: Pool | undefined
  try {
    let seen = 0
    let next = 0
    for (; next < units.length && next < INLINE_UNITS && seen < LARGE_STORE_FILES; next++) {
      options.signal?.throwIfAborted()
      const unit = scanUnit({ ...job, unit: units[next]! }, sharding)
      seen += unit.count
      if (unit.count > 0) yield unit
    }
    if (next >= units.length) return
    if (seen < LARGE_STORE_FILES || sharding.descriptor === undefined) {
      for (; next < units.length; next++) {
        options.signal?.throwIfAborted()
        const unit = scanUnit({ ...job, unit: units[next]! }, sharding)
        if (unit.count > 0) yield unit
      }
      return
    }
    pool = new Pool(options.workers ?? Math.max(2, Math.min(availableParallelism(), 4)))
    const inFlight: Array<Promise<UnitResult>> = []
    const window = pool.size * 2 // units in flight: each worker has the next one queued
    while (next < units.length || inFlight.length > 0) {
      while (inFlight.length < window && next < units.length) inFlight.push(pool.run({ ...job, unit: units[next++]! }))
      options.signal?.throwIfAborted()
      const unit = await inFlight.shift()!
      if (unit.count > 0) yield unit
      pool.release(unit)
    }
  } finally {
    await pool?.close()
  }
}

/** The first-level folders to walk, sorted, that can hold keys of the prefix, after the cursor. */
function planUnits(root: string, sharding: ShardingStrategy, options: WalkOptions): string[] {
  if (sharding.depth === 0) return ['']
  const width = sharding.descriptor?.width
  let names: string[]
  try {
    names = readdirSync(root, { withFileTypes: true })
      .filter(e => e.isDirectory() && sharding.isShardDir(e.name))
      .map(e => e.name)
      .sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  if (width === undefined) return names
  const prefix = options.prefix ?? ''
  const after = options.after?.slice(0, width)
  return names.filter(
    name => (prefix.startsWith(name) || name.startsWith(prefix)) && (after === undefined || name >= after)
  )
}

/** The key to resume after: the key `after` would have (`ab/cd/abcd….jpg`), so that key order is hash order. */
function afterKey(sharding: ShardingStrategy, after: string | undefined): string | undefined {
  return after === undefined ? undefined : sharding.encode(after)
}

/** What `scan` needs: passed in, so that the same function runs inline and, as its source, in a worker. */
interface ScanDeps {
  readdirSync: typeof readdirSync
  statSync: typeof statSync
  openSync: typeof openSync
  fstatSync: typeof fstatSync
  readSync: typeof readSync
  closeSync: typeof closeSync
  createHash: typeof createHash
  /** `crypto.hash` (Node 20.12 on): a one-shot digest, without a Hash object per file. */
  hash?: (algorithm: string, data: Uint8Array) => string
  join: typeof join
  /** The sharding: rebuilt from its descriptor in a worker, the strategy itself inline. */
  sharding: Pick<ShardingStrategy, 'depth' | 'isShardDir' | 'decode'>
}

/**
 * The files of one unit, sorted by key, as flat columns. Self-contained: it runs in a worker from
 * its source text.
 */
export function scan(job: UnitJob, deps: ScanDeps): { keys: string[]; actual: string[]; numbers: Float64Array } {
  const inSubset = (sha: string, subset: { index: number; count: number }): boolean =>
    parseInt(sha.slice(0, 4), 16) % subset.count === subset.index
  const { depth, isShardDir, decode } = deps.sharding
  // a described sharding's keys are decoded here (in the worker); a custom one's by its caller
  const decodedHere = job.sharding !== undefined
  // the default layout's subsets are whole second-level folders: their first four digits
  const subsetByFolder = job.sharding?.width === 2 && depth >= 2
  const sha256 =
    deps.hash === undefined
      ? (bytes: Buffer) => deps.createHash('sha256').update(bytes).digest('hex')
      : (bytes: Buffer) => deps.hash!('sha256', bytes)
  // A file's stat and bytes from one open (open, fstat, read, close: readFileSync and a statSync
  // take three calls more), into one buffer reused for every file that fits; null if it is gone.
  // A read asks for more than the size: fewer is the end (no second read to see it), and all of
  // it a file that grew, read on to its end (it then hashes as damaged).
  let scratch = Buffer.allocUnsafe(1 << 20)
  const statAndRead = (path: string): { stats: Stats; bytes: Buffer } | null => {
    let fd
    try {
      fd = deps.openSync(path, 'r')
    } catch {
      return null
    }
    try {
      const stats = deps.fstatSync(fd)
      if (stats.size >= scratch.length) scratch = Buffer.allocUnsafe(stats.size + 1)
      let length = 0
      for (
        let got;
        length < scratch.length && (got = deps.readSync(fd, scratch, length, scratch.length - length, length)) > 0;
      ) {
        length += got
        if (length === stats.size) break // the read asked for more: this is the end
      }
      return { stats, bytes: scratch.subarray(0, length) }
    } catch {
      return null
    } finally {
      deps.closeSync(fd)
    }
  }
  const keys: string[] = []
  const actual: string[] = []
  const numbers: number[] = []
  const visit = (prefix: string, level: number): void => {
    let entries
    try {
      entries = deps.readdirSync(deps.join(job.root, prefix), { withFileTypes: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // removed while we walked
      throw err
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      const key = prefix + entry.name
      if (entry.isDirectory() && level < depth && isShardDir(entry.name)) {
        const digits = key.replaceAll('/', '')
        // folders that hold no key of the prefix, or only keys up to the cursor, are not read
        if (!(digits.startsWith(job.prefix) || job.prefix.startsWith(digits))) continue
        if (job.after !== undefined && `${key}/` < job.after && !job.after.startsWith(`${key}/`)) continue
        if (level === 1 && job.subset !== undefined && subsetByFolder && !inSubset(digits, job.subset)) continue
        visit(key + '/', level + 1)
      } else if (entry.isFile() && (level > 0 || (depth === 0 && !entry.name.startsWith('.')))) {
        // a dot-file at the root is the store's own (.sai-layout.json)
        if (job.after !== undefined && key <= job.after) continue
        const name = entry.name.slice(0, 64)
        if (job.prefix !== '' && !name.startsWith(job.prefix)) continue
        if (job.subset !== undefined && !subsetByFolder && !inSubset(name, job.subset)) continue
        const path = `${job.root}/${key}`
        const read = job.hash ? statAndRead(path) : undefined
        const stats =
          read === undefined ? deps.statSync(path, { throwIfNoEntry: false }) : read === null ? undefined : read.stats
        if (stats === undefined || !stats.isFile()) continue
        let head = -1
        let tail = -1
        if (read != null) {
          const { bytes } = read
          actual.push(sha256(bytes))
          if (bytes.length >= 2) [head, tail] = [bytes.readUInt16BE(0), bytes.readUInt16BE(bytes.length - 2)]
        }
        keys.push(key)
        numbers.push(
          stats.size,
          stats.mtimeMs,
          level !== depth ? 0 : decodedHere && decode(key) !== undefined ? 2 : 1,
          head,
          tail
        )
      }
    }
  }
  visit(job.unit === '' ? '' : `${job.unit}/`, job.unit === '' ? 0 : 1)
  return { keys, actual, numbers: Float64Array.from(numbers) }
}

const INLINE_DEPS = {
  readdirSync,
  statSync,
  openSync,
  fstatSync,
  readSync,
  closeSync,
  createHash,
  hash: (crypto as { hash?: ScanDeps['hash'] }).hash,
  join
}

function scanUnit(job: UnitJob, sharding: ShardingStrategy): UnitResult {
  const { keys, actual, numbers } = scan(job, { ...INLINE_DEPS, sharding })
  return { count: keys.length, key: i => keys[i]!, actual: i => actual[i] ?? '', numbers, hash: job.hash }
}
