/**
 * A root that exists but holds no store (a mistyped `--root /srv`) is no empty store: `verify`,
 * `stats` and `status` say so, rather than "0 objects: clean".
 */
import { readdirSync } from 'node:fs'
import { LAYOUT_FILE } from '../core/special-dirs.js'

/** What a store of any layout holds at its root: hex shard folders, or objects (depth 0). */
const STORE_ENTRY = /^(?:[0-9a-f]+|[0-9a-f]{64}\.jpg)$/

/**
 * How many entries `root` holds that are neither frames nor the store's own (dot-files, `lost+found`),
 * when it holds nothing of a store (no layout record, no shard folder, no object); else undefined.
 */
export function notFramesAt(root: string | undefined): number | undefined {
  if (root === undefined) return undefined
  let names: string[]
  try {
    names = readdirSync(root)
  } catch {
    return undefined // missing or unreadable: the command's own reads say so
  }
  if (names.includes(LAYOUT_FILE) || names.some(name => STORE_ENTRY.test(name))) return undefined
  const others = names.filter(name => !name.startsWith('.') && name !== 'lost+found').length
  return others > 0 ? others : undefined
}

/** The line `verify`, `stats` and `status` print for such a root: `hint`, what to do. */
export function notFramesLine(notFrames: number, hint: string, folder = 'this folder'): string {
  const what = notFrames === 1 ? 'entry that is not a frame' : 'entries that are not frames'
  return `${folder} holds ${notFrames} ${what}: is it the store?${hint}`
}

/** What `verify` and `stats` add: a root that holds no store is an error unless --allow-empty. */
export function allowEmptyHint(allowEmpty: boolean): string {
  return allowEmpty ? '' : ' (a typo? --allow-empty if this is expected)'
}
