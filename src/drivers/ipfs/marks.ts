/**
 * `marks` on a Kubo node: `/.sai-image-storage/<name>` in the node's MFS, one set for the whole node
 * whatever the index path. An IPFS store is the node, not its index folder: pinned means stored, and
 * every listing, verify and prune covers every pin on the node. A mark per index folder let a second
 * primary with another index path share the node and unpin the first one's frames; one per node
 * refuses it (features/replication/owner.ts). Kept by MFS and never pinned, so never listed as an
 * image. MFS can create a name without overwriting (`files/cp` onto a taken name is refused, under
 * the folder's lock, for every client of the node) but cannot compare and replace, so a mark is a
 * series of generations (core/marks.ts): `create` makes the first, `swap` the next after the one it
 * read, and of N writers at one moment exactly one wins. A text is written under a temporary name
 * (`files/write`), copied into place (`files/cp`, flushed) and the temporary removed. Atomic within
 * one node: two nodes are two replicas.
 *
 * Older versions kept marks in `{indexPath}/.marks/`: on a node without a mark of its own, the first
 * read finds those (legacy-marks.ts) and makes the newest one (this index's first) the node's.
 */
import { randomBytes } from 'node:crypto'
import { generationName, newestGeneration, type StoreMarks } from '../../core/marks.js'
import type { KuboConnection } from './client.js'
import { legacyMarkFolders } from './legacy-marks.js'
import { MISSING, PARENT_RACE, TAKEN } from './messages.js'
import { propagate } from './propagation.js'

/** The node's own folder in MFS: its marks. */
export const NODE_MARKS = '/.sai-image-storage'

/** The newest generation of the mark `name` in the MFS folder `dir`, or undefined. */
async function newestMark(
  rpc: KuboConnection,
  dir: string,
  name: string,
  signal?: AbortSignal
): Promise<{ n: number; text: string } | undefined> {
  const listed = await rpc.send('files/ls', { arg: dir }, { signal })
  if (listed.refusal !== undefined && MISSING.test(listed.refusal)) return undefined
  const names = (rpc.json<{ Entries: Array<{ Name: string }> | null }>(listed).Entries ?? []).map(e => e.Name)
  const n = newestGeneration(names, name)
  if (n === undefined) return undefined
  const read = await rpc.send('files/read', { arg: `${dir}/${generationName(name, n)}` }, { signal })
  return { n, text: rpc.ok(read).body.toString('utf8') }
}

export function ipfsMarks(rpc: KuboConnection, indexRoot: string): StoreMarks {
  const dir = NODE_MARKS
  /** Writes `text` as `file` if the name is free: false if it was taken. */
  const place = async (file: string, text: string, signal?: AbortSignal): Promise<boolean> => {
    await makeFolder(rpc, dir, signal)
    const temp = `${dir}/.${file}.${randomBytes(6).toString('hex')}.tmp`
    const write = { arg: temp, create: true, truncate: true, 'cid-version': 1, 'raw-leaves': true }
    rpc.ok(await propagate(rpc, 'files/write', write, signal, Buffer.from(text)))
    try {
      const copied = await propagate(rpc, 'files/cp', { arg: [temp, `${dir}/${file}`] }, signal)
      if (copied.refusal !== undefined && TAKEN.test(copied.refusal)) return false
      rpc.ok(copied)
      return true
    } finally {
      // a temporary left by a failure is a dot name: never read as a mark
      await propagate(rpc, 'files/rm', { arg: temp }, signal).catch(() => {})
    }
  }
  return {
    location: `${rpc.apiUrl} MFS ${dir}/`,
    async read(name, { signal } = {}) {
      const now = await newestMark(rpc, dir, name, signal)
      if (now !== undefined) return now.text
      let legacy: string | undefined
      for (const old of await legacyMarkFolders(rpc, indexRoot, dir, signal)) {
        legacy = (await newestMark(rpc, old, name, signal))?.text
        if (legacy !== undefined) break
      }
      if (legacy === undefined) return undefined
      // the node's mark from now on; another reader making its own pick at this moment may win: the newest is read
      await place(name, legacy, signal)
      return (await newestMark(rpc, dir, name, signal))?.text
    },
    async create(name, text, { signal } = {}) {
      return await place(name, text, signal)
    },
    async swap(name, from, text, { signal } = {}) {
      const now = await newestMark(rpc, dir, name, signal)
      if (now === undefined || now.text !== from) return false
      return await place(generationName(name, now.n + 1), text, signal)
    }
  }
}

/** `files/mkdir -p`; another request making a parent at the same instant is told `file already exists`: again. */
async function makeFolder(rpc: KuboConnection, dir: string, signal?: AbortSignal): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const answer = await propagate(rpc, 'files/mkdir', { arg: dir, parents: true }, signal)
    if (answer.refusal === undefined || !PARENT_RACE.test(answer.refusal) || attempt >= 5) {
      rpc.ok(answer)
      return
    }
    await new Promise(resolve => setTimeout(resolve, attempt * 5))
  }
}
