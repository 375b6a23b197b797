/**
 * The CID Kubo gives an image under the import parameters we always send: CIDv1, raw leaves,
 * 1 MiB fixed-size chunks, sha2-256, a balanced DAG of at most 174 links per node, and a single
 * leaf reduced to itself. Up to 1 MiB that is the raw sha2-256 CID of the bytes (`bafkrei…`);
 * beyond, a dag-pb root (`bafybei…`).
 */
import { createHash } from 'node:crypto'
import type { BufferImporter } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import { create as multihash } from 'multiformats/hashes/digest'
import { optionalPeer } from '../../core/optional-peer.js'
import { sha256ToCid } from '../../core/ref.js'

const loadImporter = optionalPeer({
  neededBy: 'the IPFS driver (for images over 1 MiB)',
  option: 'driver',
  install: 'ipfs-unixfs-importer',
  load: async () =>
    await Promise.all([
      import('ipfs-unixfs-importer'),
      import('ipfs-unixfs-importer/chunker'),
      import('ipfs-unixfs-importer/layout')
    ])
})

export const CHUNK_SIZE = 1024 * 1024
export const MAX_CHILDREN = 174

/**
 * What `add` is told, so that every Kubo computes the same CID whatever its version or config:
 * flags beat `Import.*` config. `max-file-links` matters on a node with the `unixfs-v1-2025`
 * profile (1024 links: another CID for files over 174 MiB); Kubo before 0.35, which has no such
 * flag, ignores unknown ones and always uses 174.
 */
export const ADD_PARAMS = {
  'cid-version': 1,
  'raw-leaves': true,
  chunker: `size-${CHUNK_SIZE}`,
  hash: 'sha2-256',
  trickle: false,
  'max-file-links': MAX_CHILDREN,
  pin: true
} as const

/** The canonical spelling: CIDv1 in base32, whatever base or version the node answered in. */
export function canonicalCid(cid: { toString: () => string } | string): string {
  // parsed from its string: the client's CID class may come from another copy of multiformats
  return CID.parse(String(cid)).toV1().toString(base32)
}

/**
 * The CID of `bytes` as a function to call later: the import of an image over 1 MiB hashes every
 * chunk again but the first (`firstChunk`, its SHA-256 from the input's pass), which a store does
 * while the node imports (store.ts). The importer is loaded now, so that a missing peer fails before
 * the node is asked anything.
 */
export async function cidLater(
  bytes: Uint8Array,
  sha256: string,
  firstChunk?: Uint8Array
): Promise<() => Promise<string>> {
  if (bytes.byteLength <= CHUNK_SIZE) {
    const cid = sha256ToCid(sha256)
    return async () => cid
  }
  await loadImporter()
  return async () => await cidOf(bytes, sha256, firstChunk)
}

/**
 * The CID of `bytes`; pass their SHA-256 hex if it is known, so that a small image is hashed once,
 * and the SHA-256 of their first `CHUNK_SIZE` bytes if it is known, so that a large one's first
 * chunk is not hashed again.
 */
export async function cidOf(bytes: Uint8Array, sha256?: string, firstChunk?: Uint8Array): Promise<string> {
  // one raw leaf: the same digest
  if (bytes.byteLength <= CHUNK_SIZE) return sha256ToCid(sha256 ?? createHash('sha256').update(bytes).digest('hex'))
  const [{ importBytes }, { fixedSize }, { balanced }] = await loadImporter()
  const { cid } = await importBytes(
    bytes,
    { put: async (cid: CID) => cid },
    {
      cidVersion: 1,
      rawLeaves: true,
      reduceSingleLeafToSelf: true,
      chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
      layout: balanced({ maxChildrenPerNode: MAX_CHILDREN }),
      bufferImporter: rawLeaves(firstChunk)
    }
  )
  return canonicalCid(cid)
}

const RAW = 0x55
const SHA2_256 = 0x12

/** The importer's raw leaves (its own `rawLeaves`), the first one's SHA-256 given if it is known. */
function rawLeaves(firstChunk?: Uint8Array): BufferImporter {
  return async function* (file) {
    let known = firstChunk
    for await (const block of file.content) {
      const digest = known ?? createHash('sha256').update(block).digest()
      known = undefined
      yield async () => ({ cid: CID.createV1(RAW, multihash(SHA2_256, digest)), size: BigInt(block.byteLength), block })
    }
  }
}
