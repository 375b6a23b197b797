/**
 * The index's entries in SHA-256 order, each with its size and last store time, from one snapshot
 * of the index folder (its CID when the listing starts). `ls` of a folder's CID reads the folder
 * block, not the objects: a raw object's size is its link's, a larger one's is read from its root
 * block (a few hundred bytes), and the times are the markers' names. One request per 64 folders,
 * none per object: about 1,030 for a full index of 65,536 shard folders (`files/ls --long` would
 * read every object's first block).
 */
import type { ImageEntry, ListOptions } from '../../core/types.js'
import { canonicalCid } from './cid.js'
import type { KuboConnection } from './client.js'
import { markersOf } from './mfs-index.js'
import { MISSING } from './messages.js'
import type { Pins } from './pins.js'
import { sha256ToCid } from '../../core/ref.js'
import { sha256Of } from './ref.js'

export interface IndexedObject {
  sha256: string
  cid: string
  size?: number
  lastStoredAt?: Date
}

interface Link {
  Name: string
  Hash: string
  Size?: number
}

/** Folders listed by one `ls` (each a path argument). */
const FOLDERS_PER_REQUEST = 64

/**
 * Every stored (pinned) object, in SHA-256 order: the index's entries, and among them the raw pins
 * that have none (images of up to 1 MiB stored before the index: their CID names their SHA-256);
 * then, outside a listing from a cursor or of a prefix, the larger pins that have no entry, which
 * have no SHA-256 to sort by (`reindex()` adds their entries). Holds the set of pinned CIDs.
 */
export async function* listStored(
  rpc: KuboConnection,
  pins: Pins,
  root: string,
  options: ListOptions
): AsyncGenerator<ImageEntry> {
  const { prefix = '', after = '' } = options
  const pinned = await pins.all(options.signal)
  const raw: string[] = []
  for (const cid of pinned) {
    const sha256 = sha256Of(cid)
    if (sha256?.startsWith(prefix) && sha256 > after) raw.push(sha256)
  }
  raw.sort()
  let next = 0
  const entry = (sha256: string | undefined, cid: string, size?: number, lastStoredAt?: Date): ImageEntry => ({
    hash: cid,
    sha256,
    key: cid,
    path: `ipfs://${cid}`,
    url: `ipfs://${cid}`,
    size,
    lastStoredAt
  })
  const indexed = new Set<string>() // the larger pins that have an entry
  for await (const { sha256, cid, size, lastStoredAt } of indexEntries(rpc, root, options)) {
    for (; next < raw.length && raw[next]! < sha256; next++) yield entry(raw[next], sha256ToCid(raw[next]!))
    if (!pinned.has(cid)) continue // an entry whose object is not pinned is not stored (its raw pin may be)
    if (raw[next] === sha256) next++ // its entry is listed instead
    if (sha256Of(cid) === undefined) indexed.add(cid)
    yield entry(sha256, cid, size, lastStoredAt)
  }
  for (; next < raw.length; next++) yield entry(raw[next], sha256ToCid(raw[next]!))
  if (after !== '' || prefix !== '') return
  for (const cid of pinned) if (!indexed.has(cid) && sha256Of(cid) === undefined) yield entry(undefined, cid)
}
const HEX2 = /^[0-9a-f]{2}$/
const SHA256 = /^[0-9a-f]{64}$/

export async function* indexEntries(
  rpc: KuboConnection,
  root: string,
  options: { prefix?: string; after?: string; signal?: AbortSignal } = {}
): AsyncGenerator<IndexedObject> {
  const { prefix = '', after = '', signal } = options
  const stat = await rpc.send('files/stat', { arg: root, hash: true }, { signal })
  if (stat.refusal !== undefined && MISSING.test(stat.refusal)) return // nothing stored yet
  const rootCid = rpc.json<{ Hash: string }>(stat).Hash
  // a folder whose path (2 or 4 hex digits) can hold names that match the prefix and sort after the cursor
  const wanted = (path: string): boolean =>
    path.startsWith(prefix.slice(0, path.length)) && path >= after.slice(0, path.length)
  const firsts = (await folders(rpc, [rootCid], false, signal))[0]!.filter(
    link => HEX2.test(link.Name) && wanted(link.Name)
  )
  for (let at = 0; at < firsts.length; at += FOLDERS_PER_REQUEST) {
    const batch = firsts.slice(at, at + FOLDERS_PER_REQUEST)
    const shards = (
      await folders(
        rpc,
        batch.map(first => first.Hash),
        false,
        signal
      )
    ).flatMap((links, i) =>
      links
        .map(link => ({ path: batch[i]!.Name + link.Name, name: link.Name, cid: link.Hash }))
        .filter(shard => HEX2.test(shard.name) && wanted(shard.path))
    )
    for (let from = 0; from < shards.length; from += FOLDERS_PER_REQUEST) {
      for (const links of await folders(
        rpc,
        shards.slice(from, from + FOLDERS_PER_REQUEST).map(shard => shard.cid),
        true,
        signal
      )) {
        const names = links.map(link => link.Name)
        for (const link of links) {
          const sha256 = link.Name
          if (!SHA256.test(sha256) || !sha256.startsWith(prefix) || sha256 <= after) continue
          const times = markersOf(names, sha256)
          yield {
            sha256,
            cid: canonicalCid(link.Hash),
            size: typeof link.Size === 'number' ? link.Size : undefined,
            lastStoredAt: times.length > 0 ? new Date(times[times.length - 1]!) : undefined
          }
        }
      }
    }
  }
}

/** The links of each folder, by name (`sizes`: each file's size, which reads a dag-pb file's root). */
async function folders(rpc: KuboConnection, cids: string[], sizes: boolean, signal?: AbortSignal): Promise<Link[][]> {
  const answer = await rpc.send(
    'ls',
    { arg: cids.map(cid => `/ipfs/${cid}`), 'resolve-type': sizes, size: sizes, offline: true },
    { signal }
  )
  const objects = rpc.json<{ Objects?: Array<{ Links?: Link[] | null }> }>(answer).Objects ?? []
  if (objects.length !== cids.length)
    throw rpc.unavailable('ls', `asked for ${cids.length} folders, got ${objects.length}`)
  return objects.map(object =>
    [...(object.Links ?? [])].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0))
  )
}
