/**
 * The write path, in cacache's shape: a unique temp file, written, fsynced, linked into place without
 * overwriting, the directory fsynced; and the folders it writes into, their names made durable. Whether
 * the bytes are new, and what a name already taken means, is the caller's (store.ts).
 */
import { KEPT_TEMP } from './leftovers.js'
import { randomUUID } from 'node:crypto'
import { close, closeSync, constants, fsync, linkSync, open, openSync, type Stats, statSync, unlinkSync } from 'node:fs'
import { chmod, link, mkdir, rename, unlink } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'
import { promisify } from 'node:util'
import { isMissing } from '../../core/errors.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { StoreLayout } from './layout.js'
import type { StoreRoot } from './store.js'

const openFd = promisify(open)
const closeFd = promisify(close)
const fsyncFd = promisify(fsync)

export interface WriteContext {
  root: string
  fsync: boolean
  fileMode?: number
  dirs: StoreDirs
  /** Runs `work` without a wait (a close, a temp's removal), a function now; logs a failure */
  later: (work: Promise<unknown> | (() => void), event: string, path: string) => void
}

/** A one-call write that is its own sync (O_DSYNC): one round trip. */
const CREATE_DSYNC = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC

/**
 * A complete (with fsync, durable) temp file written by `write`, beside `near` (its final name, when its
 * folder exists: writers of different images share no folder lock), else in `folder` (default `{root}/.tmp`;
 * a new shard folder is made meanwhile). `oneWrite`: one write call, so O_DSYNC makes it durable.
 */
export async function writeTemp(
  context: WriteContext,
  near: string | undefined,
  write: (fd: number) => Promise<void>,
  { oneWrite = false, folder = join(context.root, SPECIAL_DIRS.temp), keptTimes = false } = {}
): Promise<string> {
  const { dirs } = context
  if (!dirs.rooted) await dirs.ensureRoot() // once
  const shard = near === undefined ? undefined : dirname(near)
  const made = shard === undefined || isDirectory(shard) ? undefined : dirs.makeShard(shard)
  const name = `${randomUUID()}${keptTimes ? KEPT_TEMP : '.tmp'}`
  const temp = near !== undefined && made === undefined ? `${near}.${name}` : join(folder, name)
  if (made === undefined) return await createTemp(context, temp, write, oneWrite)
  const [written, ready] = await Promise.allSettled([createTemp(context, temp, write, oneWrite), made])
  if (ready.status === 'rejected') {
    if (written.status === 'fulfilled') await removeIfExists(written.value).catch(() => {})
    throw ready.reason
  }
  if (written.status === 'rejected') throw written.reason
  return temp
}

async function createTemp(
  context: WriteContext,
  temp: string,
  write: (fd: number) => Promise<void>,
  oneWrite: boolean
): Promise<string> {
  // with an exact mode, the chmod after the write is synced by fsync as before
  const dsync = context.fsync && oneWrite && context.fileMode === undefined
  const flags = dsync ? CREATE_DSYNC : 'wx'
  // its folder was just seen (or is .tmp): made again only if a prune removed it since
  const fd = await context.dirs.inShardDir(temp, () => openFd(temp, flags, context.fileMode ?? 0o666), true)
  try {
    await write(fd)
    if (context.fileMode !== undefined) await chmod(temp, context.fileMode)
    if (context.fsync && !dsync) await fsyncFd(fd)
  } catch (err) {
    // the cleanup's own failure (EROFS after ENOSPC) must not hide why the write failed
    await closeFd(fd).catch(() => {})
    await removeIfExists(temp).catch(() => {})
    throw err
  }
  // no wait for the close (it has no error to add); no pool call without fsync
  context.later(context.fsync ? closeFd(fd) : () => closeSync(fd), 'fs.close-failed', temp)
  return temp
}

/**
 * Links the temp to `path` without overwriting, then makes the name durable. If the name is taken, `taken`
 * says what is there: something (returned, the temp dropped), or undefined for an object to replace
 * (damaged, or pruned meanwhile) by the temp, atomically. `seen`: the caller just saw the folder.
 */
export async function linkIntoPlace<T>(
  context: WriteContext,
  temp: string,
  path: string,
  taken: () => Promise<T | undefined>,
  seen = false
): Promise<T | undefined> {
  let existing: T | undefined
  try {
    if (!(await linkUnlessTaken(context, temp, path, seen))) {
      existing = await taken()
      if (existing === undefined) await rename(temp, path)
    }
  } catch (err) {
    await removeIfExists(temp).catch(() => {}) // (verify removes a temp left behind)
    throw err
  }
  // the temp's name goes without a wait (verify removes one a crash left)
  context.later(context.fsync ? removeIfExists(temp) : () => unlinkSync(temp), 'fs.temp-remove-failed', temp)
  if (context.fsync && existing === undefined)
    await Promise.all([fsyncDir(dirname(path)), context.dirs.settle(dirname(path))])
  return existing
}

/** Links the temp to `path` without overwriting: false if the name is taken. */
async function linkUnlessTaken(context: WriteContext, temp: string, path: string, seen: boolean): Promise<boolean> {
  try {
    await context.dirs.inShardDir(path, () => (context.fsync ? link(temp, path) : linkSync(temp, path)), seen)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

/** Removes a file that may already be gone. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if (!isMissing(err)) throw err
  }
}

/** A directory's new entries made to survive a power cut: one round trip (open and close: lookups). */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r')
  try {
    await fsyncFd(fd)
  } finally {
    closeSync(fd)
  }
}

/** When a file or folder was made (its birth, else its last change). */
const bornMs = (stats: Stats): number => (stats.birthtimeMs > 0 ? stats.birthtimeMs : stats.ctimeMs)

/** Whether a file or folder was made in the last minute. */
export const isYoung = (stats: Stats): boolean => Date.now() - bornMs(stats) < 60_000

/** A synchronous lookup: microseconds against a pool round trip (bench/RESULTS.md, 2026-11-25). */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true // (no error for a miss)
  } catch {
    return false
  }
}

/** The store's folders: the root (made once, when the library may), `.tmp`, the shard folders. */
export class StoreDirs {
  private ready?: Promise<void>
  rooted = false
  /** Folders whose names (and parents') this process made durable, by inode; when it began a folder's fsync. */
  private readonly durable = new Map<string, number>()
  private readonly synced = new Map<string, number>()

  constructor(
    private readonly root: StoreRoot,
    private readonly options: { dirMode?: number; fsync: boolean; layout?: StoreLayout }
  ) {}

  /** The root and `.tmp` exist (made if the library may), the root is the one it was, its layout the settings'. */
  async ensureRoot(): Promise<void> {
    this.ready ??= (async () => {
      if (!this.root.check()) await mkdir(dirname(this.root.path), { recursive: true }) // ours to create
      await this.make(join(this.root.path, SPECIAL_DIRS.temp), dirname(this.root.path))
      this.root.require()
      await this.options.layout?.record() // an empty store records its layout
    })()
    try {
      await this.ready
      this.rooted = true
    } catch (err) {
      this.ready = undefined // the mount may come back
      throw err
    }
  }

  /** `work` on a file in a shard directory, made only when missing. `seen`: the caller just saw it. */
  async inShardDir<T>(file: string, work: () => T | Promise<T>, seen = false): Promise<T> {
    const dir = dirname(file)
    if (!seen && !isDirectory(dir)) await this.makeShard(dir) // no failed call first
    try {
      return await work()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      await this.makeShard(dir) // removed meanwhile (an empty shard directory pruned)
      return await work()
    }
  }

  /** A shard directory, in a root the caller has ensured (`ensureRoot`: the layout is recorded first). */
  async makeShard(dir: string): Promise<void> {
    this.root.require() // never a new shard directory on a bare mount point
    await this.make(dir, this.root.path)
  }

  /**
   * Creates `dir` and its parents below `base`, a level at a time (a recursive mkdir says ENOENT where
   * the disk said EROFS), with the exact mode (mkdir applies the umask), each parent fsynced (and a young
   * one's parents: `settle`), so the name survives a power cut.
   */
  async make(dir: string, base: string): Promise<void> {
    const chain: string[] = []
    for (let d = dir; d !== base && d !== dirname(d) && !isDirectory(d); d = dirname(d)) chain.unshift(d)
    if (chain.length > 0) await this.settle(dirname(chain[0]!))
    for (const d of chain) {
      try {
        await mkdir(d, { mode: this.options.dirMode ?? 0o777 })
        if (this.options.dirMode !== undefined) await chmod(d, this.options.dirMode)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err // another's, just made: synced too
      }
      if (!this.options.fsync) continue
      const began = Date.now()
      await fsyncDir(dirname(d))
      this.remember(d, began)
    }
  }

  /**
   * The names of `dir` and its young parents up to the root made durable: another writer may have just made
   * them without an fsync (the Python service never does), and a frame in a folder a power cut loses is
   * lost (test/crash). An old folder, or one this process made durable, costs a lookup.
   */
  async settle(dir: string): Promise<void> {
    const young: [string, number][] = []
    for (let d = dir; this.options.fsync && d.startsWith(this.root.path + sep); d = dirname(d)) {
      const stats = statSync(d, { throwIfNoEntry: false })
      if (stats === undefined || this.durable.get(d) === stats.ino || !isYoung(stats)) break
      // made a clock tick before a parent fsync of ours began: durable, as is the chain above (a warm store)
      if (bornMs(stats) + 10 < (this.synced.get(dirname(d)) ?? 0)) break
      young.push([d, stats.ino])
    }
    const began = Date.now()
    await Promise.all(young.map(async ([d]) => await fsyncDir(dirname(d))))
    for (const [d, ino] of young) this.remember(d, began, ino)
  }

  private remember(dir: string, began: number, ino = statSync(dir).ino): void {
    if (this.durable.size >= 4096) {
      this.durable.clear() // (only a folder's first minute needs them)
      this.synced.clear()
    }
    this.durable.set(dir, ino)
    this.synced.set(dirname(dir), began)
  }
}
