/**
 * The primary's shard folders, watched by their change times. Any writer that puts a frame into
 * place (storage.py's rename, rsync, `mv`) changes its folder's ctime, which nobody can set back
 * (rsync -a restores a folder's mtime, not its ctime). A pass stats every folder and names the
 * leaves whose ctime moved: 65,792 stats at the default depth, about 0.1 s of CPU, and no state
 * per frame. Chosen over inotify (fs.watch) after measuring: a watch per folder costs Node about
 * 1.5 KB (138 MB RSS for 65,792 folders), and watches are a per-user budget (see docs/replication.md).
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setImmediate as yieldToLoop } from 'node:timers/promises'

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
  children?: Folder[]
}

export interface ShardFoldersInit {
  root: string
  /** Shard levels below the root (storage.py's layout: 2). */
  depth: number
  isShardDir: (name: string) => boolean
  /** On the first pass, leaves whose ctime is at least this (ms) count as changed; default 0: all. */
  since?: number
}

export class ShardFolders {
  private readonly top: Folder
  private readonly since: number
  /** Leaf folders known at the last pass. */
  leaves = 0

  constructor(private readonly init: ShardFoldersInit) {
    this.top = { path: init.root, key: '', ctime: Number.NaN }
    this.since = init.since ?? 0
  }

  /** The leaf folders (keys such as `ab/cd`) that changed since the last pass. */
  async changed(): Promise<string[]> {
    const out: string[] = []
    let leaves = 0
    let stats = 0
    const now = Date.now()
    const visit = async (folder: Folder, level: number): Promise<boolean> => {
      if (++stats % 4096 === 0) await yieldToLoop() // the copier's I/O goes on between slices
      const seen = statSync(folder.path, { throwIfNoEntry: false })
      if (seen === undefined) return false
      const moved = Number.isNaN(folder.ctime) ? seen.ctimeMs >= this.since : seen.ctimeMs !== folder.ctime
      folder.ctime = now - seen.ctimeMs < RACY_MS ? Number.NaN : seen.ctimeMs
      if (level === this.init.depth) {
        leaves++
        if (moved) out.push(folder.key)
        return true
      }
      if (moved || folder.children === undefined) folder.children = this.children(folder)
      const kept: Folder[] = []
      for (const child of folder.children) if (await visit(child, level + 1)) kept.push(child)
      folder.children = kept
      return true
    }
    await visit(this.top, 0)
    this.leaves = leaves
    return out
  }

  /** A folder's shard folders, keeping what is known of those seen before. */
  private children(folder: Folder): Folder[] {
    const before = new Map((folder.children ?? []).map(child => [child.key, child]))
    let names: string[]
    try {
      names = readdirSync(folder.path, { withFileTypes: true })
        .filter(e => e.isDirectory() && this.init.isShardDir(e.name))
        .map(e => e.name)
    } catch {
      return []
    }
    return names.map(name => {
      const key = folder.key === '' ? name : `${folder.key}/${name}`
      return before.get(key) ?? { path: join(folder.path, name), key, ctime: Number.NaN }
    })
  }
}
