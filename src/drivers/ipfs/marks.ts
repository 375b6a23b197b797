/**
 * `marks` on a Kubo node: `{indexPath}/.marks/<name>` in the node's MFS, beside the index (whose
 * listing reads only its two-hex-digit folders), kept by MFS and never pinned, so never listed as an
 * image. MFS can create a name without overwriting (`files/cp` onto a taken name is refused, under
 * the folder's lock, for every client of the node) but cannot compare and replace, so a mark is a
 * series of generations (core/marks.ts): `create` makes the first, `swap` the next after the one it
 * read, and of N writers at one moment exactly one wins. A text is written under a temporary name
 * (`files/write`), copied into place (`files/cp`, flushed) and the temporary removed. Atomic within
 * one node: two nodes are two replicas.
 */
import { randomBytes } from 'node:crypto'
import { generationName, newestGeneration, type StoreMarks } from '../../core/marks.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { KuboConnection } from './client.js'
import { MISSING, PARENT_RACE, TAKEN } from './messages.js'
import { propagate } from './propagation.js'

export function ipfsMarks(rpc: KuboConnection, indexRoot: string): StoreMarks {
  const dir = `${indexRoot}/${SPECIAL_DIRS.marks}`
  const newest = async (name: string, signal?: AbortSignal): Promise<{ n: number; text: string } | undefined> => {
    const listed = await rpc.send('files/ls', { arg: dir }, { signal })
    if (listed.refusal !== undefined && MISSING.test(listed.refusal)) return undefined
    const names = (rpc.json<{ Entries: Array<{ Name: string }> | null }>(listed).Entries ?? []).map(e => e.Name)
    const n = newestGeneration(names, name)
    if (n === undefined) return undefined
    const read = await rpc.send('files/read', { arg: `${dir}/${generationName(name, n)}` }, { signal })
    return { n, text: rpc.ok(read).body.toString('utf8') }
  }
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
    async read(name, options = {}) {
      return (await newest(name, options.signal))?.text
    },
    async create(name, text, options = {}) {
      return await place(name, text, options.signal)
    },
    async swap(name, from, text, options = {}) {
      const now = await newest(name, options.signal)
      if (now === undefined || now.text !== from) return false
      return await place(generationName(name, now.n + 1), text, options.signal)
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
