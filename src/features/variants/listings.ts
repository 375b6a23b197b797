/**
 * The names in the variant cache's shard folders, for lookups: synchronous (microseconds, no round
 * trip), and a second old at most (another process may add entries). A walk of the store asks for
 * every object of a folder in a row, so the last folder listed is kept; once a folder proves
 * missing, its parent is listed, and the folders after it in that parent need no readdir to be
 * found missing (where most of a young cache's are not made yet).
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
    if (this.folder?.name !== folder || Date.now() - this.folder.at > FRESH_MS)
      this.folder = { name: folder, names: this.list(folder), at: Date.now() }
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

  /**
   * A fresh listing of the parent says whether the folder exists; without one, the folder is listed
   * at once (one readdir where it exists, as in a cache in use), and its parent if it does not.
   */
  private list(folder: string): string[] {
    const parent = folder.slice(0, 2)
    if (this.parent?.name === parent && Date.now() - this.parent.at <= FRESH_MS)
      return this.parent.children.has(folder.slice(3)) ? (namesIn(join(this.dir, folder), false) ?? []) : []
    const names = namesIn(join(this.dir, folder), false)
    if (names !== undefined) return names
    this.parent = { name: parent, children: new Set(namesIn(join(this.dir, parent), false)), at: Date.now() }
    return []
  }
}

/** A folder's names, sorted; none if it does not exist. */
export function listDir(dir: string): string[] {
  return namesIn(dir) ?? []
}

/** A folder's names, sorted (a lookup needs no order); undefined if it does not exist. */
function namesIn(dir: string, sorted = true): string[] | undefined {
  try {
    const names = readdirSync(dir)
    return sorted ? names.sort() : names
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}
