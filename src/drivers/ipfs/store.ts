/**
 * A store on the node. Where Kubo's trailers reach the driver (asked once: client.ts), it is two
 * requests side by side, then one more:
 *   - a time marker (`<sha256>.<ms>`, unflushed);
 *   - the `add` with pin and `to-files` (the index entry, linked after the pin), whose last byte
 *     waits for the marker; its `X-Stream-Error` trailer says whether the entry was there already
 *     or the pin failed;
 *   - one `files/flush` of the shard folder, which persists the marker and the entry (Kubo loses
 *     unflushed MFS changes when it is killed).
 * Where a proxy drops trailers, the entry is made with `files/cp` and the pin checked (and made
 * again if it is missing) after the add: two more requests.
 *
 * The entry's creation is atomic per folder: of racing writers, in any process, exactly one
 * creates it and reports `isDuplicate: false`. Against a concurrent prune (removal.ts): a store
 * renews (the marker) before its pin and entry are made or checked, and a prune destroys (unpin,
 * remove) before it re-reads the markers; either the prune sees the new marker and keeps (or puts
 * back) the object, or the store's pin and entry come after the prune's removal and stand.
 */
import { IntegrityError } from '../../core/errors.js'
import type { KuboConnection } from './client.js'
import type { MfsIndex } from './mfs-index.js'
import type { Pins } from './pins.js'

export interface Node {
  rpc: KuboConnection
  index: MfsIndex
  pins: Pins
}

/**
 * `cidOf` gives the CID the driver expects (cid.ts: `cidLater`); over 1 MiB it is computed once the
 * add is on its way, while the node imports, and compared with the node's when the add has ended.
 */
export async function storeOnNode(
  node: Node,
  bytes: Buffer,
  sha256: string,
  cidOf: () => Promise<string>,
  signal?: AbortSignal
): Promise<{ cid: string; isDuplicate: boolean; storedAt: Date }> {
  const { index, pins } = node
  const storedAt = new Date()
  const marker = index.renew(sha256, storedAt.getTime(), signal)
  marker.catch(() => {}) // awaited below; when a request before that fails, its error is the one thrown
  let claim: 'created' | 'taken'
  let cid: string
  if (await node.rpc.trailersArrive(signal)) {
    const adding = pins.add(bytes, { gate: marker, toFiles: index.entryOf(sha256), signal })
    adding.catch(() => {}) // awaited below, after our CID
    cid = await afterSending(cidOf)
    const added = await adding
    await marker
    if (added.cid !== cid) {
      if (added.linked === 'created') await index.remove(sha256, [sha256], signal) // the entry names the node's CID
      throw new IntegrityError(cid, added.cid, node.rpc.apiUrl)
    }
    claim = added.linked ?? (await index.claim(sha256, cid, signal)) // no parent folder: made by cp
  } else {
    const adding = Promise.all([marker, pins.add(bytes, { signal })])
    adding.catch(() => {})
    cid = await afterSending(cidOf)
    const [, added] = await adding
    if (added.cid !== cid) throw new IntegrityError(cid, added.cid, node.rpc.apiUrl)
    const [made, pinned] = await Promise.all([index.claim(sha256, cid, signal), pins.has(cid, signal)])
    if (!pinned) await pins.pin(cid, signal) // a concurrent delete, or a node that did not pin: the store stands
    claim = made
  }
  await index.flush(sha256, signal)
  if (claim === 'taken') {
    const indexed = await index.lookup(sha256, signal)
    if (indexed !== undefined && indexed !== cid) {
      // an entry for other bytes' import (other parameters, an older version): replaced by ours
      await index.remove(sha256, [sha256], signal)
      return { ...(await storeOnNode(node, bytes, sha256, async () => cid, signal)), isDuplicate: false }
    }
  }
  return { cid, isDuplicate: claim === 'taken', storedAt }
}

/** Runs `work` once the requests started before it are written (the hashing would hold them back). */
async function afterSending<T>(work: () => Promise<T>): Promise<T> {
  await new Promise(resolve => setImmediate(resolve))
  return await work()
}
