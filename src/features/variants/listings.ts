/**
 * The names in the variant cache's shard folders, for lookups: synchronous (microseconds, no round
 * trip), and a second old at most (another process may add entries). A walk of the store asks for
 * every object of a folder in a row, so the last folder listed is kept; a folder not made yet
 * holds none, as its parent's listing says (one readdir for 256 folders, where most of a young
 * cache's are not made yet, instead of a failed readdir each).
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { isMissing } from '../../core/errors.js'

const FRESH_MS = 1000

export class FolderListings {
  private folder?: { name: string; names: string[]; at: number }
  private parent?: { name: string; children: Set<string>; at: number }

  constructor(private readonly dir: string) {}

  /** The names in `folder` (`ab/cd`). */
  names(folder: string): string[] {
    if (this.folder?.name !== folder || Date.now() - this.folder.at > FRESH_MS) {
      this.folder = { name: folder, names: this.made(folder) ? listDir(join(this.dir, folder)) : [], at: Date.now() }
    }
    return this.folder.names
  }

  /** An entry this process made: seen by the lookups that follow. */
  added(folder: string, name: string): void {
    if (this.folder?.name === folder && !this.folder.names.includes(name)) this.folder.names.push(name)
    if (this.parent?.name === folder.slice(0, 2)) this.parent.children.add(folder.slice(3))
  }

  /** Forgets `folder`'s listing (its entries were removed). */
  forget(folder: string): void {
    if (this.folder?.name === folder) this.folder = undefined
  }

  private made(folder: string): boolean {
    const parent = folder.slice(0, 2)
    if (this.parent?.name !== parent || Date.now() - this.parent.at > FRESH_MS)
      this.parent = { name: parent, children: new Set(listDir(join(this.dir, parent))), at: Date.now() }
    return this.parent.children.has(folder.slice(3))
  }
}

/** A folder's names, sorted; none if it does not exist. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch (err) {
    if (isMissing(err)) return []
    throw err
  }
}
