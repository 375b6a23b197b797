/**
 * The scan of one unit of the walk (walk.ts): its files, sorted by key, as flat columns. It runs
 * inline and in the walk's workers (walk-workers.ts), there from its source text: so these
 * functions use nothing but their arguments, the globals and each other.
 */
import type { createHash } from 'node:crypto'
import type { closeSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs'
import type { join } from 'node:path'
import type { ShardingStrategy } from '../../core/sharding.js'
import type { UnitJob } from './walk-workers.js'

/** What `scan` needs: passed in, so that the same function runs inline and, as its source, in a worker. */
export interface ScanDeps {
  readdirSync: typeof readdirSync
  lstatSync: typeof lstatSync
  openSync: typeof openSync
  readSync: typeof readSync
  closeSync: typeof closeSync
  createHash: typeof createHash
  /** `crypto.hash` (Node 20.12 on): a one-shot digest, without a Hash object per file. */
  hash?: (algorithm: string, data: Uint8Array) => string
  join: typeof join
  /** Set in the walk's workers (walk-workers.ts). */
  inWorker?: boolean
  /** The sharding: rebuilt from its descriptor in a worker, the strategy itself inline. */
  sharding: Pick<ShardingStrategy, 'depth' | 'isShardDir' | 'decode'>
}

/** One unit's scan: what it was asked, how to read, and the columns it fills. */
interface ScanState {
  job: UnitJob
  deps: ScanDeps
  /** A described sharding's keys are decoded here (in the worker); a custom one's by its caller. */
  decodedHere: boolean
  /** The default layout's subsets are whole second-level folders: their first four digits. */
  subsetByFolder: boolean
  sha256: (bytes: Buffer) => string
  /** One buffer reused for every file that fits; replaced by a larger one for a file that does not. */
  scratch: Buffer
  keys: string[]
  actual: string[]
  numbers: number[]
}

/**
 * The files of one unit, sorted by key, as flat columns. Self-contained but for the functions of
 * `SCAN_PARTS`: they run in a worker from their source text.
 */
export function scan(job: UnitJob, deps: ScanDeps): { keys: string[]; actual: string[]; numbers: Float64Array } {
  const state: ScanState = {
    job,
    deps,
    decodedHere: job.sharding !== undefined,
    subsetByFolder: job.sharding?.width === 2 && deps.sharding.depth >= 2,
    sha256:
      deps.hash === undefined
        ? (bytes: Buffer) => deps.createHash('sha256').update(bytes).digest('hex')
        : (bytes: Buffer) => deps.hash!('sha256', bytes),
    // only a hashing walk reads files; inline, a listing's 1 MB per unit was 256 MB of garbage for a small store.
    // A worker keeps it: its external memory makes the worker's heap collect sooner (without it a listing of
    // 1,000,000 objects peaked 39 MB above one of 100,000, against 21: bench/RESULTS-full-run.md, session 11)
    scratch: Buffer.allocUnsafe(job.hash || deps.inWorker === true ? 1 << 20 : 0),
    keys: [],
    actual: [],
    numbers: []
  }
  scanFolder(state, job.unit === '' ? '' : `${job.unit}/`, job.unit === '' ? 0 : 1)
  return { keys: state.keys, actual: state.actual, numbers: Float64Array.from(state.numbers) }
}

/** One folder of the unit, its entries in name order: shard folders walked into, files scanned. */
function scanFolder(state: ScanState, prefix: string, level: number): void {
  const { job, deps } = state
  const { depth, isShardDir } = deps.sharding
  const folder = deps.join(job.root, prefix)
  if (level === depth && level > 0 && !job.hash) {
    // a listing's leaf folder: its names only, no Dirent per file (scanFile's lstat tells a file)
    const names = readFolder(() => deps.readdirSync(folder))
    for (const name of names.sort())
      if (fileWanted(state, prefix + name, name.slice(0, 64))) scanFile(state, prefix + name, level)
    return
  }
  const entries = readFolder(() => deps.readdirSync(folder, { withFileTypes: true }))
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const entry of entries) {
    const key = prefix + entry.name
    if (entry.isDirectory() && level < depth && isShardDir(entry.name)) {
      if (folderWanted(state, key, level)) scanFolder(state, `${key}/`, level + 1)
    } else if (entry.isFile() && (level > 0 || (depth === 0 && !entry.name.startsWith('.')))) {
      // a dot-file at the root is the store's own (.sai-layout.json)
      if (fileWanted(state, key, entry.name.slice(0, 64))) scanFile(state, key, level)
    } else if (level === depth && job.hash && (level > 0 || !entry.name.startsWith('.'))) {
      // a folder or a link where an object's file may belong (no regular file: the store does not hold its bytes,
      // which a listing and a walk never read): kind 4, for verify to judge by its name (nothing is read)
      if (fileWanted(state, key, entry.name.slice(0, 64))) {
        state.keys.push(key)
        state.actual.push('')
        state.numbers.push(0, 0, 4, -1, -1)
      }
    }
  }
}

/** A folder's entries, or none if it was removed while we walked. */
function readFolder<T>(read: () => T[]): T[] {
  try {
    return read()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/** Whether a shard folder can hold a key of the prefix, after the cursor, in the subset: else it is not read. */
function folderWanted({ job, subsetByFolder }: ScanState, key: string, level: number): boolean {
  const digits = key.replaceAll('/', '')
  if (!(digits.startsWith(job.prefix) || job.prefix.startsWith(digits))) return false
  if (job.after !== undefined && `${key}/` < job.after && !job.after.startsWith(`${key}/`)) return false
  return !(level === 1 && job.subset !== undefined && subsetByFolder && !inSubset(digits, job.subset))
}

/** Whether a file (its key, and the SHA-256 its name starts with) is after the cursor, of the prefix and subset. */
function fileWanted({ job, subsetByFolder }: ScanState, key: string, name: string): boolean {
  if (job.after !== undefined && key <= job.after) return false
  if (job.prefix !== '' && !name.startsWith(job.prefix)) return false
  return !(job.subset !== undefined && !subsetByFolder && !inSubset(name, job.subset))
}

function inSubset(sha: string, subset: { index: number; count: number }): boolean {
  return parseInt(sha.slice(0, 4), 16) % subset.count === subset.index
}

/** One file into the columns: its key, its digest if hashed, and size, mtime, kind, head and tail. */
function scanFile(state: ScanState, key: string, level: number): void {
  const { job, deps } = state
  const { depth, decode } = deps.sharding
  const path = `${job.root}/${key}`
  const bytes = job.hash ? readWhole(state, path) : undefined
  if (bytes === null) return
  let head = -1
  let tail = -1
  let digest: string | undefined
  if (bytes !== undefined) {
    digest = state.sha256(bytes)
    if (bytes.length >= 2) [head, tail] = [bytes.readUInt16BE(0), bytes.readUInt16BE(bytes.length - 2)]
  }
  const named = level === depth && state.decodedHere ? decode(key) : undefined
  // kind 3: its bytes hash to its name, so that a verify makes no string for an intact object (nor is
  // its digest carried: it is the name's), and needs no stat (its size is the bytes read; its mtime unused)
  const kind = level !== depth ? 0 : named === undefined ? 1 : named === digest ? 3 : 2
  // lstat: a symbolic link is not an object (as its Dirent says where there is one)
  const stats = kind === 3 ? undefined : deps.lstatSync(path, { throwIfNoEntry: false })
  if (kind !== 3 && (stats === undefined || !stats.isFile())) return
  if (digest !== undefined) state.actual.push(kind === 3 ? '' : digest)
  state.keys.push(key)
  state.numbers.push(stats?.size ?? bytes!.length, stats?.mtimeMs ?? 0, kind, head, tail)
}

/**
 * A file's bytes from one open (open, reads to the end, close: no fstat, whose Stats and their four
 * Dates cost more than a read that finds the end), into the scratch buffer, grown for a larger file;
 * null if it is gone. A read that fails throws: a file that cannot be read is not "gone".
 */
function readWhole(state: ScanState, path: string): Buffer | null {
  const { deps } = state
  let fd
  try {
    fd = deps.openSync(path, 'r')
  } catch (err) {
    // removed while we walked; any other failure (EIO, EACCES, EMFILE) is the caller's to hear, never a frame
    // left out of a verify that then says clean
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  try {
    let length = 0
    for (let got; (got = deps.readSync(fd, state.scratch, length, state.scratch.length - length, length)) > 0; ) {
      length += got
      if (length < state.scratch.length) continue
      const larger = Buffer.allocUnsafe(state.scratch.length * 2)
      state.scratch.copy(larger)
      state.scratch = larger
    }
    return state.scratch.subarray(0, length)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') return null // a folder now: no file any more
    throw err
  } finally {
    deps.closeSync(fd)
  }
}

/**
 * The functions `scan` calls, for the worker's source (walk-workers.ts): each written there as a
 * declaration under the name it has here, the name the bundle's calls to it use.
 */
export const SCAN_PARTS = [scanFolder, readFolder, folderWanted, fileWanted, inSubset, scanFile, readWhole]
