/**
 * Pins: pinned means stored. The calls that add, list, check and drop them, with the driver's
 * import parameters (cid.ts) and its reading of the node's answers.
 */
import { CID } from 'multiformats/cid'
import { ADD_PARAMS, canonicalCid } from './cid.js'
import type { KuboConnection } from './client.js'
import { NOT_PINNED, NOT_PINNED_RM, TO_FILES_NO_PARENT, TO_FILES_TAKEN } from './messages.js'

/** The empty folder `ipfs init` pins on every node: not an image. */
export const EMPTY_FOLDER = 'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354'

/**
 * Kubo keys pins by the CID as given: a dag-pb object pinned as CIDv0 (`Qm…`, how `ipfs add` names
 * it by default) is not pinned as its CIDv1, which is how this driver names every object.
 */
function spellings(cid: string): string[] {
  const parsed = CID.parse(cid)
  return parsed.code === 0x70 ? [cid, parsed.toV0().toString()] : [cid]
}

export class Pins {
  constructor(private readonly rpc: KuboConnection) {}

  /**
   * Adds and pins the bytes: the node's CID (the caller compares it with its own). Resolves when
   * the answer has ended: Kubo sends the Hash line during the import and pins after it, and a
   * failure then (the pin, a full disk) comes only in the `X-Stream-Error` trailer. With
   * `toFiles`, the add also links the object there (after the pin): `linked` tells whether it made
   * the link or found the name taken (undefined: the folder was not there). The last byte is sent
   * once `gate` resolves: no pin, no link before it.
   */
  async add(
    bytes: Uint8Array,
    options: { toFiles?: string; gate?: Promise<unknown>; signal?: AbortSignal } = {}
  ): Promise<{ cid: string; linked?: 'created' | 'taken' }> {
    const params = options.toFiles === undefined ? ADD_PARAMS : { ...ADD_PARAMS, 'to-files': options.toFiles }
    const answer = await this.rpc.send('add', params, { body: bytes, gate: options.gate, signal: options.signal })
    const problem = answer.streamError
    const linked =
      options.toFiles === undefined
        ? undefined
        : problem === undefined
          ? 'created'
          : TO_FILES_TAKEN.test(problem)
            ? 'taken'
            : undefined
    if (problem !== undefined && linked === undefined && !TO_FILES_NO_PARENT.test(problem)) this.rpc.ok(answer)
    else if (answer.refusal !== undefined) this.rpc.ok(answer)
    const lines = answer.body.toString().trim().split('\n')
    let hash: unknown
    try {
      hash = JSON.parse(lines[lines.length - 1]!).Hash
    } catch {}
    if (typeof hash !== 'string')
      throw this.rpc.unavailable('add', `no Hash in the answer: ${JSON.stringify(answer.body.toString().slice(0, 80))}`)
    return { cid: canonicalCid(hash), linked }
  }

  /** Every recursive pin, streamed from the node (held as one set: see `list`). */
  async all(signal?: AbortSignal): Promise<Set<string>> {
    const pins = new Set<string>()
    let rest = ''
    const take = (line: string): void => {
      if (line.trim() === '') return
      const cid = (JSON.parse(line) as { Cid?: string }).Cid
      if (typeof cid === 'string') pins.add(canonicalCid(cid))
    }
    const answer = await this.rpc.send(
      'pin/ls',
      { type: 'recursive', stream: true },
      {
        signal,
        onChunk: chunk => {
          const lines = (rest + chunk.toString()).split('\n')
          rest = lines.pop()!
          for (const line of lines) take(line)
        }
      }
    )
    this.rpc.ok(answer)
    take(rest)
    pins.delete(EMPTY_FOLDER)
    return pins
  }

  async has(cid: string, signal?: AbortSignal): Promise<boolean> {
    for (const spelling of spellings(cid)) {
      // type=recursive: answers from the pin index alone (type=all walks every pin for indirect ones)
      const answer = await this.rpc.send('pin/ls', { arg: spelling, type: 'recursive' }, { signal })
      if (answer.refusal !== undefined && NOT_PINNED.test(answer.refusal)) continue
      const keys = this.rpc.json<{ Keys?: Record<string, unknown> } | null>(answer)?.Keys ?? {}
      if (Object.keys(keys).some(key => key === cid || canonicalCid(key) === cid)) return true
    }
    return false
  }

  /** Unpins; false if it was not pinned (never, or a concurrent unpin won). */
  async remove(cid: string, signal?: AbortSignal): Promise<boolean> {
    let removed = false
    for (const spelling of spellings(cid)) {
      const answer = await this.rpc.send('pin/rm', { arg: spelling }, { signal })
      if (answer.refusal !== undefined && NOT_PINNED_RM.test(answer.refusal)) continue
      this.rpc.ok(answer)
      removed = true
    }
    return removed
  }

  /** Pins blocks the node holds (`offline`: never waits for the network for a missing one). */
  async pin(cid: string, signal?: AbortSignal): Promise<void> {
    this.rpc.ok(await this.rpc.send('pin/add', { arg: cid, offline: true }, { signal }))
  }
}
