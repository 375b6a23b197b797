/**
 * What a mapping is for: its `{"mapping":{"job","from","to"}}` line names the store its items went
 * to, and where they came from, never with a secret. A rerun skips every item the mapping records,
 * so a mapping run into another store (bucket B after bucket A, another root) would report "done"
 * with nothing there: it is refused. A store is known by the id it keeps in its marks (`store-id`,
 * made by the first job that binds a mapping to it), so a store moved to another path (a remount, a
 * disk copied whole) keeps its mappings; a store that keeps no marks is known by its location.
 * Where items came from is recorded for the reader only: the records are keyed by content (import:
 * by the path below the folder, which may move), so only the target decides what a skip may trust.
 */
import { randomUUID } from 'node:crypto'
import { resolve } from 'node:path'
import { ConfigError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'

/** A store as a mapping names it. */
export interface StorePlace {
  driver: string
  /** Where it is, for a reader: a root, `s3://bucket/prefix at endpoint`, an API URL. */
  location: string
  /** The id in its marks, where it keeps marks. */
  id?: string
}

/** The mapping's own line: the job, where its items came from (a store or a folder), and the store they went to. */
export interface MappingOf {
  job: string
  from: StorePlace | { folder: string }
  to: StorePlace
}

const STORE_ID = 'store-id'

/**
 * `storage` as a mapping names it (a replicated store by its primary, whose replicas may change);
 * with `bind`, a store that keeps marks and has no id yet is given one.
 */
export async function placeOf(storage: ImageStorage, bind: boolean): Promise<StorePlace> {
  const own = (storage as { primary?: ImageStorage }).primary ?? storage
  const { marks } = own
  let id = await marks?.read(STORE_ID)
  if (id === undefined && bind && marks !== undefined) {
    await marks.create(STORE_ID, randomUUID())
    id = await marks.read(STORE_ID) // the id of whichever job made it first
  }
  // (a location never carries a credential: S3 refuses an endpoint with a user in it, IPFS cuts it out)
  const location = own.location ?? own.driver
  return { driver: own.driver, location, ...(id === undefined ? {} : { id: id.trim() }) }
}

/** The folder an import reads, as its mapping names it. */
export const folderOf = (dir: string): { folder: string } => ({ folder: resolve(dir) })

/** The `{"mapping":…}` lines' contents among a mapping's lines (none in a mapping of an earlier release). */
export function mappingOfLine(entry: Record<string, unknown>): MappingOf | undefined {
  const of = entry.mapping as MappingOf | undefined
  return typeof of === 'object' && of !== null && typeof of.to?.location === 'string' ? of : undefined
}

/** Refuses a mapping whose lines name another target than `here`'s (ERR_CONFIG), before any item. */
export function checkMappingOf(path: string, recorded: MappingOf[], here: MappingOf): void {
  const other = recorded.find(of => !sameStore(of.to, here.to))
  if (other === undefined) return
  throw new ConfigError(
    path,
    `this mapping is of ${other.job} into ${said(other.to)}, not into ${said(here.to)}. A rerun passes ` +
      'over every item the mapping records as done, and they are not in this store. Use another mapping ' +
      'file for this store (--mapping): a new one starts from the beginning (what it holds already is found ' +
      'as duplicates)',
    'mapping'
  )
}

function sameStore(a: StorePlace, b: StorePlace): boolean {
  return a.id !== undefined || b.id !== undefined ? a.id === b.id : a.driver === b.driver && a.location === b.location
}

function said(place: StorePlace): string {
  return `${place.driver} ${place.location} (${place.id === undefined ? 'no store id yet' : `store id ${place.id}`})`
}
