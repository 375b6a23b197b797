/**
 * Marks: small named texts a store keeps beside its objects, never listed as objects (fs:
 * `{root}/.marks/<name>`, S3: `{prefix}.marks/<name>`, IPFS: `/.sai-image-storage/<name>` in the node's
 * MFS, one set per node, since an IPFS store is the whole node). Replication keeps a replica's owner
 * there (features/replication/owner.ts). A driver without marks leaves `ImageStorage.marks` undefined.
 *
 * Every write is atomic in the store itself, across hosts: `create` only if the name is free, `swap`
 * only if the text is still the one read (compare-and-swap), so that of N writers at one moment
 * exactly one wins, in any process on any host. Where the store can only create without overwriting
 * (a filesystem, MFS), a mark is a series of generations, `<name>`, `<name>.1`, `<name>.2`…, each made
 * once and never changed; the newest is the mark, and a swap creates the next one.
 */
import type { AbortOptions } from './types.js'

export interface StoreMarks {
  /** Where the marks are, safe to print. */
  readonly location: string
  /** The text under `name`, or undefined if there is none. */
  read: (name: string, options?: AbortOptions) => Promise<string | undefined>
  /** Writes `text` under `name` only if nothing is there yet, durably: false if something was. */
  create: (name: string, text: string, options?: AbortOptions) => Promise<boolean>
  /**
   * Replaces the text under `name` with `text`, durably, only if it is `from` now, atomically against
   * every other writer: false if it was not (another swap won, or there is no mark: `create` then).
   */
  swap: (name: string, from: string, text: string, options?: AbortOptions) => Promise<boolean>
}

/** The file name of generation `n` of the mark `name`. */
export function generationName(name: string, n: number): string {
  return n === 0 ? name : `${name}.${n}`
}

/** The newest generation of the mark `name` among `names` (a folder's listing), or undefined if there is none. */
export function newestGeneration(names: Iterable<string>, name: string): number | undefined {
  let newest: number | undefined
  for (const entry of names) {
    const n = entry === name ? 0 : entry.startsWith(`${name}.`) ? generationOf(entry.slice(name.length + 1)) : -1
    if (n >= 0 && (newest === undefined || n > newest)) newest = n
  }
  return newest
}

function generationOf(suffix: string): number {
  return /^[1-9]\d{0,8}$/.test(suffix) ? Number(suffix) : -1
}
