/**
 * The walk of the tree, in key order (which is SHA-256 order), at the speed of the disk's
 * metadata: synchronous readdir and stat (a thread-pool round trip per call is far slower), each
 * first-level shard folder one unit of work, read in a worker thread, two or more at once, and
 * delivered in order. A small store is walked inline (a worker costs 30 ms to start). The same
 * workers hash for `verify`. Figures: bench/RESULTS.md ("the walk", 2026-12-04).
 */
import * as crypto from 'node:crypto'
import { createHash } from 'node:crypto'
import { closeSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { hashOfDecodedKey, type ShardingStrategy } from '../../core/sharding.js'
import { type ScanDeps, scan } from './walk-scan.js'
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

const INLINE_DEPS = {
  readdirSync,
  lstatSync,
  openSync,
  readSync,
  closeSync,
  createHash,
  hash: (crypto as { hash?: ScanDeps['hash'] }).hash,
  join
}

function scanUnit(job: UnitJob, sharding: ShardingStrategy): UnitResult {
  const { keys, actual, numbers } = scan(job, { ...INLINE_DEPS, sharding })
  const digest = (i: number): string => actual[i] || (numbers[i * 5 + 2] === 3 ? hashOfDecodedKey(keys[i]!) : '')
  return { count: keys.length, key: i => keys[i]!, actual: digest, numbers, hash: job.hash }
}
