/**
 * Stores images on a Kubo node over its HTTP RPC API: the hash is the CID (CIDv1, base32), the
 * path `ipfs://<cid>`. Pinned means stored; garbage collection of unpinned blocks is the node's job.
 *
 * Every CID is computed here before the node is asked, and every fetched byte is checked against
 * it: other bytes or another CID from the node (or a proxy) are `ERR_INTEGRITY`.
 * `ipfs-unixfs-importer` (for images over 1 MiB) is loaded on first use.
 *
 * @example
 * ```ts
 * const storage = new IpfsDriver({ url: 'http://127.0.0.1:5001', gatewayUrl: 'https://gw.example' })
 * const { hash, url } = await storage.store(jpeg) // 'bafkrei…', 'ipfs://bafkrei…'
 * storage.url(hash) // 'https://gw.example/ipfs/bafkrei…'
 * ```
 */
import { StorageFront } from '../../core/front.js'
import type { StoreMarks } from '../../core/marks.js'
import type { AbortOptions, ReindexReport } from '../../core/types.js'
import { IpfsAdapter, type IpfsKey } from './adapter.js'
import { durabilityOf, type NodeDurability } from './durability.js'
import type { IpfsDriverInit } from './init.js'
import { indexEntries } from './listing.js'
import { ipfsMarks } from './marks.js'
import type { MfsIndex } from './mfs-index.js'
import { reindex } from './reindex.js'

export { DEFAULT_IPFS_API_URL, DEFAULT_IPFS_TIMEOUT_MS, type IpfsDriverInit } from './init.js'
export type { NodeDurability } from './durability.js'
export type { ReindexReport } from '../../core/types.js'
export { parseIpfsRef } from './ref.js'
export { sha256ToCid } from '../../core/ref.js'

type Capability<Name extends 'deleteIfNotRenewed'> = NonNullable<StorageFront<IpfsKey>[Name]>

export class IpfsDriver extends StorageFront<IpfsKey> {
  declare readonly deleteIfNotRenewed: Capability<'deleteIfNotRenewed'>
  /** An HTTP link to the image on the configured gateway, for the dashboard. */
  declare readonly url: (ref: string) => string
  /** The API URL with any credentials removed: safe to print. */
  readonly apiUrl: string
  /** A replica's owner and other small texts: the node's, under `/.sai-image-storage/` in MFS (marks.ts). */
  readonly marks: StoreMarks
  private readonly node: IpfsAdapter
  /** The SHA-256 → CID index (a test reads its entries). */
  private readonly index: MfsIndex

  constructor(init: IpfsDriverInit = {}) {
    const node = new IpfsAdapter(init)
    super(node, init)
    this.node = node
    this.index = node.index
    this.apiUrl = node.location
    this.marks = ipfsMarks(node.rpc, node.index.root)
  }

  /** Indexes the pins stored before the index (see reindex.ts). */
  async reindex(options: AbortOptions & { onProgress?: (report: ReindexReport) => void } = {}): Promise<ReindexReport> {
    const { rpc, pins } = this.node
    const pinned = await pins.all(options.signal)
    const entries = indexEntries(rpc, this.index.root, { signal: options.signal })
    return await reindex(this.index, entries, pinned, async cid => await this.fetch(cid, options), options)
  }

  /** Shown by `util.inspect` (and so by loggers): never the credentials, nor the gateway's URL (it may hold some). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `IpfsDriver { apiUrl: '${this.apiUrl}' }`
  }

  toJSON(): object {
    return { driver: this.driver, apiUrl: this.apiUrl }
  }

  /** Whether a resolved store survives a power cut on this node (durability.ts). */
  async durability(options: AbortOptions = {}): Promise<NodeDurability> {
    return await durabilityOf(this.node.rpc, options.signal)
  }
}
