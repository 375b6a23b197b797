/**
 * Where versions before the node-wide marks (marks.ts) kept a store's marks: `{indexPath}/.marks/`,
 * one folder per index path. On a node that has no node-wide mark yet, every such folder is looked
 * at, so that an owner one of them names stays the node's owner after the upgrade, whichever host
 * of the node upgrades first: a new host does not slip in beside an older one's index.
 *
 * The folders are found by walking the MFS tree from its root, never into a `.marks` folder nor into
 * an index's shard folders (two hex digits: an index holds up to 65,536 of them, and never a mark;
 * a folder is taken for an index when it holds a `.marks` folder or more than 16 such names). A small
 * index's few shard folders are walked. This runs only while the node has no mark of its own: the
 * first write of a primary makes one.
 */
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { KuboConnection } from './client.js'
import { MISSING } from './messages.js'

const SHARD = /^[0-9a-f]{2}$/
/** `files/ls --long`'s type of a folder. */
const FOLDER = 1

/** The marks folders older versions may have left: this index's first, then the others in path order. */
export async function legacyMarkFolders(
  rpc: KuboConnection,
  indexRoot: string,
  skip: string,
  signal?: AbortSignal
): Promise<string[]> {
  const own = `${indexRoot}/${SPECIAL_DIRS.marks}`
  const found: string[] = []
  const walk = async (dir: string): Promise<void> => {
    const answer = await rpc.send('files/ls', { arg: dir, long: true }, { signal })
    if (answer.refusal !== undefined && MISSING.test(answer.refusal)) return // removed meanwhile
    const entries = rpc.json<{ Entries: Array<{ Name: string; Type: number }> | null }>(answer).Entries ?? []
    // an index's shard folders (never a mark in them) are passed over; a folder of another use so named is not
    const index =
      entries.some(e => e.Name === SPECIAL_DIRS.marks) || entries.filter(e => SHARD.test(e.Name)).length > 16
    const folders = entries
      .filter(e => e.Type === FOLDER && !(index && SHARD.test(e.Name)))
      .map(e => (dir === '/' ? `/${e.Name}` : `${dir}/${e.Name}`))
      .filter(path => path !== skip)
      .sort()
    for (const path of folders)
      if (path.endsWith(`/${SPECIAL_DIRS.marks}`)) found.push(path)
      else await walk(path)
  }
  await walk('/')
  return [own, ...found.filter(path => path !== own)]
}
