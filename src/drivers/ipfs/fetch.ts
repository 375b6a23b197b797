/** A fetch on the node: every byte checked against the CID, asked offline, beside the pin check. */
import { createHash } from 'node:crypto'
import { IntegrityError, type NotFoundError, TooLargeError } from '../../core/errors.js'
import { cidOf } from './cid.js'
import type { KuboConnection } from './client.js'
import { NOT_A_FILE, NOT_LOCAL } from './messages.js'
import type { Pins } from './pins.js'
import { sha256Of } from './ref.js'

/**
 * The verified bytes of `cid`; for a SHA-256 ref, `indexed` is the index's answer, asked alongside:
 * the raw CID holds an image of up to 1 MiB, the index names a larger one.
 */
export async function fetchVerified(
  rpc: KuboConnection,
  pins: Pins,
  indexed: Promise<string | undefined> | undefined,
  cid: string,
  maxBytes: number,
  notFound: (cid: string) => NotFoundError,
  signal?: AbortSignal
): Promise<Buffer> {
  indexed?.catch(() => {}) // awaited below only if the raw CID is not stored
  try {
    return await catVerified(rpc, pins, cid, maxBytes, () => notFound(cid), signal)
  } catch (err) {
    const other = await indexed
    if ((err as NotFoundError).code !== 'ERR_NOT_FOUND' || other === undefined || other === cid) throw err
    const bytes = await catVerified(rpc, pins, other, maxBytes, () => notFound(other), signal)
    // the bytes match the index's CID; whether they are the asked SHA-256's, only their hash says
    // (an entry edited by hand, or made by another tool, can name another object)
    const sha256 = sha256Of(cid)!
    const actual = createHash('sha256').update(bytes).digest('hex')
    if (actual !== sha256) throw new IntegrityError(sha256, actual, `ipfs://${other}`)
    return bytes
  }
}

/**
 * The bytes of `cid`, checked against it as they arrive; `notFound` when it is not pinned (asked
 * beside the cat). `cat` is asked offline: a pinned object's blocks are the node's own, and a
 * missing one is damage (`ERR_INTEGRITY`), not a reason to wait for the network.
 */
export async function catVerified(
  rpc: KuboConnection,
  pins: Pins,
  cid: string,
  maxBytes: number,
  notFound: () => NotFoundError,
  signal?: AbortSignal
): Promise<Buffer> {
  signal?.throwIfAborted()
  // stops the cat when the pin check says no (or fails), or when the caller aborts
  const unpinned = new AbortController()
  const onAbort = (): void => unpinned.abort(signal!.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  const pinned = pins.has(cid, signal).then(
    isPinned => {
      if (!isPinned) unpinned.abort(notFound()) // the cat is not needed then
      return isPinned
    },
    (err: unknown) => {
      unpinned.abort(err)
      throw err
    }
  )
  const raw = sha256Of(cid)
  const hash = raw === undefined ? undefined : createHash('sha256')
  const chunks: Buffer[] = []
  let size = 0
  const cat = rpc.send(
    'cat',
    { arg: cid, length: maxBytes + 1, offline: true },
    {
      signal: unpinned.signal,
      onChunk: chunk => {
        size += chunk.length
        if (size > maxBytes) throw new TooLargeError(maxBytes)
        hash?.update(chunk) // while the rest arrives
        chunks.push(chunk)
      }
    }
  )
  const [isPinned, answer] = await Promise.all([pinned, cat.catch((err: unknown) => err as Error)]).finally(() =>
    signal?.removeEventListener('abort', onAbort)
  )
  if (!isPinned) throw notFound() // a missing pin explains a failed cat better than cat's own error
  if (answer instanceof Error) throw answer
  const problem = answer.refusal ?? answer.streamError
  if (problem !== undefined && NOT_A_FILE.test(problem)) throw notFound() // a folder pinned by someone else
  if (problem !== undefined && NOT_LOCAL.test(problem))
    throw new IntegrityError(cid, `blocks missing on the node (${problem})`, `ipfs://${cid}`)
  rpc.ok(answer)
  const bytes = Buffer.concat(chunks, size)
  // Kubo reports an error after the body has started only in a trailer: the bytes are checked anyway
  const actual = hash === undefined ? await cidOf(bytes) : hash.digest('hex') === raw ? cid : await cidOf(bytes)
  if (actual !== cid) throw new IntegrityError(cid, actual, `ipfs://${cid}`)
  return bytes
}
