/**
 * What `stat` tells of a pinned object whose SHA-256 is known: its size, type and last store, in one round of calls.
 */
import { createHash } from 'node:crypto'
import type { KuboConnection } from './client.js'
import { markersOf, type MfsIndex } from './mfs-index.js'
import { SNIFF_BYTES, sniffImageType, UNKNOWN_MIME_TYPE } from '../../core/input.js'
import type { Pins } from './pins.js'

/** What the bytes themselves tell: their SHA-256, size and type. */
export function statOfBytes(bytes: Buffer): { sha256: string; size: number; mimeType: string } {
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    mimeType: sniffImageType(bytes) ?? UNKNOWN_MIME_TYPE
  }
}

/** Undefined when it is not pinned (not stored). */
export async function statIndexed(
  rpc: KuboConnection,
  pins: Pins,
  index: MfsIndex,
  cid: string,
  sha256: string,
  signal?: AbortSignal
): Promise<{ size: number; mimeType: string; storedAt?: Date; lastStoredAt?: Date } | undefined> {
  // offline: a pinned object's blocks are local, and an unpinned one is not looked for on the network
  const [pinned, stat, head, names] = await Promise.all([
    pins.has(cid, signal),
    rpc.send('files/stat', { arg: `/ipfs/${cid}`, offline: true }, { signal }),
    rpc.send('cat', { arg: cid, length: SNIFF_BYTES, offline: true }, { signal }),
    index.names(sha256, signal)
  ])
  if (!pinned) return undefined
  const size = Number(rpc.json<{ Size: number }>(stat).Size)
  const lastStoredAt = await index.storedTime(sha256, names, signal)
  // the first marker is kept when a duplicate store drops the older ones (mfs-index.ts)
  const first = markersOf(names, sha256)[0]
  return {
    size,
    storedAt: first === undefined ? undefined : new Date(first),
    lastStoredAt,
    mimeType: sniffImageType(rpc.ok(head).body) ?? UNKNOWN_MIME_TYPE
  }
}
