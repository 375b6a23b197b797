/**
 * The primary's shard folders, watched by their change times. Any writer that puts a frame into
 * place (storage.py's rename, rsync, `mv`) changes its folder's ctime, which nobody can set back
 * (rsync -a restores a folder's mtime, not its ctime). A pass stats every folder and names the
 * leaves whose ctime moved: 65,792 stats at the default depth, about 0.1 s of CPU, and no state
 * per frame. With `watches` (folder-watches.ts), the leaves watched by inotify are stat'ed only on a
 * full pass (the safety net for lost events): their events name them instead.
 */
import { readdirSync, type Stats, statSync } from 'node:fs'
import { join } from 'node:path'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { isMissing } from '../../core/errors.js'
import type { FolderWatches } from './folder-watches.js'

/**
 * A ctime this close to the pass may hide a later change in the same clock tick (the kernel's
 * coarse clock): such a folder is listed again next pass (git's "racy" index entries).
 */
const RACY_MS = 2000

interface Folder {
  path: string
  /** The key of the folder, `ab/cd`, relative to the root. */
  key: string
  /** Its ctime when last seen; NaN: not seen yet, or to be listed again. */
  ctime: number
  /** Below the level above the leaves: the shard folders inside. */
  children?: Folder[]
  /**
   * At the level above the leaves: the leaves' names and ctimes, in two arrays rather than an
   * object each (65,536 leaves at 1M objects: a tree of objects held ~35 MB more RSS, bench/watch.mjs).
   */
  leafNames?: string[]
  leafCtimes?: Float64Array
  /** 1 where the leaf is watched (`watches`). */
  leafWatched?: Uint8Array
}

export interface ShardFoldersInit {
  root: string
  /** Shard levels below the root (storage.py's layout: 2). */
  depth: number
  isShardDir: (name: string) => boolean
  /** On the first pass, leaves whose ctime is at least this (ms) count as changed; default 0: all. */
  since?: number
  /** Watches on the leaves, as many as they take (the rest are stat'ed on every pass). */
  watches?: FolderWatches
}

const NO_THROW = { throwIfNoEntry: false } as const

export class ShardFolders {
  private readonly top: Folder
  private readonly since: number
  /** Leaf folders known at the last pass. */
  leaves = 0
  /** Folders above the leaves (the root too) at the last pass that stat'ed them. */
  private above = 0
  /** Whether the last pass stat'ed every leaf (a full pass), so that no change can have been missed. */
  complete = false
  private full = false

  constructor(private readonly init: ShardFoldersInit) {
    this.top = { path: init.root, key: '', ctime: Number.NaN }
    this.since = init.since ?? 0
  }

  /**
   * The leaf folders (keys such as `ab/cd`) that changed since the last pass. `stat` stats the
   * folders not watched, `full` every folder; `events` only names the watched ones with events.
   */
  async changed(mode: 'events' | 'stat' | 'full' = 'stat'): Promise<string[]> {
    this.failure = undefined
    const out: string[] = this.init.watches?.take() ?? []
    if (mode === 'events') return out
    this.full = mode === 'full' || this.init.watches === undefined
    this.complete = true
    this.leaves = 0
    this.above = 0
    if (this.init.depth === 0) {
      // the root is the only leaf
      const moved = this.seen(this.top, Date.now())
      this.leaves = moved === undefined ? 0 : 1
      if (moved === true) out.push('')
      return out
    }
    try {
      await this.visit(this.top, 1, out)
    } catch (err) {
      this.top.ctime = -1
      this.failed('', err)
    }
    return [...new Set(out)]
  }

  /**
   * What kept the last pass from visiting every folder, and which (its key): the first error. The watcher throws it
   * after queuing the frames of the others; `status` says its count is incomplete.
   */
  failure?: { folder: string; error: unknown }

  /**
   * A folder that cannot be stat'ed or listed (EACCES, EIO): the pass goes on with its siblings, and the caller
   * forgets the folder's ctime (-1 never matches), so the next pass lists it again. Never taken for empty: the
   * pass is not complete.
   */
  private failed(key: string, error: unknown): void {
    this.complete = false
    this.failure ??= { folder: key === '' ? '.' : key, error }
  }

  /** Every folder known at the last pass that stat'ed them: the inotify watches the layout takes. */
  get count(): number {
    return this.leaves + this.above
  }

  /** Stats a folder: whether its ctime moved (undefined: gone), its new ctime recorded. */
  private seen(folder: Folder, now: number): boolean | undefined {
    const stat = statSync(folder.path, NO_THROW)
    if (stat === undefined) return undefined
    const moved = Number.isNaN(folder.ctime) ? stat.ctimeMs >= this.since : stat.ctimeMs !== folder.ctime
    folder.ctime = now - stat.ctimeMs < RACY_MS ? Number.NaN : stat.ctimeMs
    return moved
  }

  /** Visits `folder`, `level` levels below the root plus one (`depth`: the leaves' parent); false if it is gone. */
  private async visit(folder: Folder, level: number, out: string[]): Promise<boolean> {
    const moved = this.seen(folder, Date.now())
    if (moved === undefined) {
      this.forget(folder)
      return false
    }
    this.above++
    if (level === this.init.depth) {
      if (moved || folder.leafNames === undefined) this.listLeaves(folder)
      // a leaf made again under the same name is another folder: watched anew, stat'ed now
      this.statLeaves(folder, out, moved)
      await yieldToLoop() // the copier's I/O goes on between folders
      return true
    }
    if (moved || folder.children === undefined) folder.children = this.children(folder)
    const kept: Folder[] = []
    for (const child of folder.children) {
      try {
        if (await this.visit(child, level + 1, out)) kept.push(child)
      } catch (err) {
        child.ctime = -1
        this.failed(child.key, err)
        kept.push(child) // visited again next pass
      }
    }
    folder.children = kept
    return true
  }

  /** Stats the leaves of `folder`, naming those whose ctime moved; drops those that are gone. */
  private statLeaves(folder: Folder, out: string[], all: boolean): void {
    const names = folder.leafNames!
    const ctimes = folder.leafCtimes!
    const watched = folder.leafWatched!
    const now = Date.now()
    let gone = 0
    for (let i = 0; i < names.length; i++) {
      if (watched[i] === 1 && !all && !this.full && ctimes[i]! >= 0) {
        this.complete = false
        continue // its events name it
      }
      let stat: Stats | undefined
      try {
        stat = statSync(`${folder.path}/${names[i]!}`, NO_THROW)
      } catch (err) {
        // its parent not searchable (EACCES), EIO: the other leaves still count; this one is stat'ed again next pass
        ctimes[i] = -1
        this.failed(this.keyOf(folder, names[i]!), err)
        continue
      }
      if (stat === undefined) {
        if (watched[i] === 1) this.init.watches?.drop(this.keyOf(folder, names[i]!))
        names[i] = ''
        gone++
        continue
      }
      const before = ctimes[i]!
      if (Number.isNaN(before) ? stat.ctimeMs >= this.since : stat.ctimeMs !== before)
        out.push(this.keyOf(folder, names[i]!))
      ctimes[i] = now - stat.ctimeMs < RACY_MS ? Number.NaN : stat.ctimeMs
    }
    this.leaves += names.length - gone
    if (gone > 0)
      this.keepLeaves(
        folder,
        names.flatMap((name, i) => (name === '' ? [] : [i]))
      )
  }

  /** Lists the leaves of `folder`, keeping the ctimes of those seen before. */
  private listLeaves(folder: Folder): void {
    const known = new Map((folder.leafNames ?? []).map((name, i) => [name, folder.leafCtimes![i]!]))
    folder.leafNames = this.shardNames(folder.path)
    folder.leafCtimes = Float64Array.from(folder.leafNames, name => known.get(name) ?? Number.NaN)
    const watches = this.init.watches
    folder.leafWatched = Uint8Array.from(folder.leafNames, name => {
      if (watches === undefined) return 0
      const key = this.keyOf(folder, name)
      watches.drop(key) // the folder of that name may be a new one
      return watches.add(`${folder.path}/${name}`, key) ? 1 : 0
    })
  }

  /** Drops the watches below a folder that is gone. */
  private forget(folder: Folder): void {
    for (const child of folder.children ?? []) this.forget(child)
    for (const name of folder.leafNames ?? []) this.init.watches?.drop(this.keyOf(folder, name))
  }

  private keyOf(folder: Folder, name: string): string {
    return folder.key === '' ? name : `${folder.key}/${name}`
  }

  private keepLeaves(folder: Folder, indexes: number[]): void {
    const names = folder.leafNames!
    const ctimes = folder.leafCtimes!
    const watched = folder.leafWatched!
    folder.leafNames = indexes.map(i => names[i]!)
    folder.leafCtimes = Float64Array.from(indexes, i => ctimes[i]!)
    folder.leafWatched = Uint8Array.from(indexes, i => watched[i]!)
  }

  /** A folder's shard folders (not leaves), keeping what is known of those seen before. */
  private children(folder: Folder): Folder[] {
    const before = new Map((folder.children ?? []).map(child => [child.key, child]))
    return this.shardNames(folder.path).map(name => {
      const key = folder.key === '' ? name : `${folder.key}/${name}`
      return before.get(key) ?? { path: join(folder.path, name), key, ctime: Number.NaN }
    })
  }

  private shardNames(path: string): string[] {
    try {
      return readdirSync(path, { withFileTypes: true })
        .filter(e => e.isDirectory() && this.init.isShardDir(e.name))
        .map(e => e.name)
    } catch (err) {
      if (isMissing(err)) return [] // gone meanwhile
      throw err // unreadable: never taken for empty (its frames would go unseen)
    }
  }
}
