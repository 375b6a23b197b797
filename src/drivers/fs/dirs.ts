/**
 * The store's directories: the root (made once, when the library may), `.tmp`, `.pruning` and the
 * shard directories, each made with the exact mode asked for and its name made durable.
 */
import { statSync } from 'node:fs'
import { chmod, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fsyncDir } from '../../core/durable-files.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { StoreLayout } from './layout.js'
import type { StoreRoot } from './root.js'

export class StoreDirs {
  private ready?: Promise<void>
  private pruning?: Promise<void>

  constructor(
    private readonly root: StoreRoot,
    private readonly options: { dirMode?: number; fsync: boolean; layout?: StoreLayout }
  ) {}

  /**
   * The root and its `.tmp` exist (made if the library may), the root is the one it was, and its
   * layout the settings'.
   */
  async ensureRoot(): Promise<void> {
    this.ready ??= (async () => {
      if (!this.root.check()) await mkdir(dirname(this.root.path), { recursive: true }) // ours to create
      await this.make(join(this.root.path, SPECIAL_DIRS.temp), dirname(this.root.path))
      this.root.require()
      await this.options.layout?.record(this.options.fsync) // an empty store records its layout
    })()
    try {
      await this.ready
    } catch (err) {
      this.ready = undefined // the mount may come back
      throw err
    }
  }

  /** `{root}/.pruning`, made once with its name durable (before a prune moves an object into it). */
  async ensurePruning(): Promise<void> {
    this.pruning ??= this.make(join(this.root.path, SPECIAL_DIRS.pruning), this.root.path)
    try {
      await this.pruning
    } catch (err) {
      this.pruning = undefined
      throw err
    }
  }

  /**
   * A lookup, synchronous: microseconds against a thread-pool round trip (bench/RESULTS.md, the
   * round trips of a store, 2026-11-25). False for anything but a directory, or nothing there.
   */
  isDirectory(path: string): boolean {
    try {
      return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true // (no error made for a miss)
    } catch {
      return false
    }
  }

  /**
   * Runs `work` on a file in a shard directory, making the directory only when it is missing: the
   * steady state costs no extra call. `seen`: the caller just saw the directory (no lookup first).
   */
  async inShardDir<T>(file: string, work: () => T | Promise<T>, seen = false): Promise<T> {
    const dir = dirname(file)
    if (!seen && !this.isDirectory(dir)) await this.makeShard(dir) // no failed call first
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
   * Creates `dir` and its parents below `base`, one level at a time (Node's recursive mkdir reports
   * ENOENT where the disk said EROFS), with the exact mode (mkdir applies the umask and drops
   * setgid), and fsyncs the parent of each directory made here, so that its name survives a power
   * cut. A directory another writer made is that writer's to make durable (on ext4 and XFS, the
   * fsync of a directory commits its creation too).
   */
  async make(dir: string, base: string): Promise<void> {
    const chain: string[] = []
    for (let d = dir; d !== base && d !== dirname(d) && !this.isDirectory(d); d = dirname(d)) chain.unshift(d)
    for (const d of chain) {
      try {
        await mkdir(d, { mode: this.options.dirMode ?? 0o777 })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue
        throw err
      }
      if (this.options.dirMode !== undefined) await chmod(d, this.options.dirMode)
      if (this.options.fsync) await fsyncDir(dirname(d))
    }
  }
}
