/**
 * The requests that carry an MFS change up to the root (`files/flush`, `files/rm`, a flushed
 * `files/cp` or `files/mkdir`), sent one at a time per node from this process.
 *
 * Kubo 0.43 (boxo's mfs) carries a flushed folder's new node upwards one level at a time, each
 * level under its own lock only, and hands the root it ends with to the publisher, which writes the
 * latest one it was given. Two flushes of different folders at the same instant can therefore end
 * with a root (or a folder on the way) that holds the older of two versions of a folder they share,
 * and that root is what gets written: the other flush has answered, its store resolved, and its
 * entry and marker are in the node's memory but not on disk until some later flush passes through
 * that folder. A `kill -9` before then loses them (the pin, written apart, stays): the flake seen
 * as a frame without its time marker after a crash (test/drivers/ipfs/kill.test.ts finds it).
 * One at a time, each flush starts from a tree that holds every change before it. Writers in other
 * processes on the same node are not covered (docs/drivers/ipfs.md).
 */
import { KeyedLock } from '../../core/concurrency.js'
import type { Answer, KuboConnection, Params } from './client.js'

/** Per node URL, shared by every driver in this process. */
const PROPAGATING = new KeyedLock()

export async function propagate(
  rpc: KuboConnection,
  command: string,
  params: Params,
  signal?: AbortSignal,
  body?: Uint8Array
): Promise<Answer> {
  return await PROPAGATING.run(rpc.apiUrl, async () => await rpc.send(command, params, { signal, body }))
}
