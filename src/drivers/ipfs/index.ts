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
 * const { hash, path } = await storage.store(jpeg) // 'bafkrei…', 'ipfs://bafkrei…'
 * storage.url(hash) // 'https://gw.example/ipfs/bafkrei…'
 * ```
 */
import { Readable } from 'node:stream'
import { Background } from '../../core/background.js'
import { KeyedLock } from '../../core/concurrency.js'
import { ConfigError, NotFoundError, settingName } from '../../core/errors.js'
import { readAll } from '../../core/hashing.js'
import { readInput, type ImageInput } from '../../core/input.js'
import { resolveLimits } from '../../core/limits.js'
import { traced, tracedIterable } from '../../core/tracing.js'
import type {
  AbortOptions,
  ImageEntry,
  ImageStat,
  ImageStorage,
  ListOptions,
  ReindexReport,
  StorageResult,
  StoreOptions
} from '../../core/types.js'
import { cidLater } from './cid.js'
import { KuboConnection } from './client.js'
import { durabilityOf, warnIfNotPowerCutSafe, type NodeDurability } from './durability.js'
import { DEFAULT_IPFS_API_URL, DEFAULT_IPFS_TIMEOUT_MS, type IpfsDriverInit } from './init.js'
import { indexEntries, listStored } from './listing.js'
import { DEFAULT_INDEX_PATH, MfsIndex } from './mfs-index.js'
import { Pins } from './pins.js'
import { parseIpfsRef, sha256Of } from './ref.js'
import { reindex } from './reindex.js'
import { deleteIfNotRenewed, deleteObject } from './removal.js'
import { statIndexed, statOfBytes } from './stat.js'
import { fetchVerified } from './fetch.js'
import { storeOnNode, type Node } from './store.js'

export { DEFAULT_IPFS_API_URL, DEFAULT_IPFS_TIMEOUT_MS, type IpfsDriverInit } from './init.js'
export type { NodeDurability } from './durability.js'
export type { ReindexReport } from '../../core/types.js'
export { parseIpfsRef } from './ref.js'
export { sha256ToCid } from '../../core/ref.js'

export class IpfsDriver implements ImageStorage {
  readonly driver = 'ipfs'
  /** The API URL with any credentials removed: safe to print. */
  readonly apiUrl: string
  private readonly init: Pick<IpfsDriverInit, 'maxBytes' | 'allowNonImage' | 'gatewayUrl' | 'settingNames'>
  private readonly rpc: KuboConnection
  /** Stores of one image in this process run one after another (across processes, the entry decides). */
  private readonly perSha256 = new KeyedLock()
  private readonly index: MfsIndex
  private readonly pins: Pins
  /** Drops a duplicate's older markers after the store. */
  private readonly background = new Background()
  private readonly node: Node
  private checked = false

  constructor(init: IpfsDriverInit = {}) {
    this.init = {
      maxBytes: init.maxBytes,
      allowNonImage: init.allowNonImage,
      gatewayUrl: init.gatewayUrl,
      settingNames: init.settingNames
    }
    this.rpc = new KuboConnection(
      init.url ?? DEFAULT_IPFS_API_URL,
      init.auth,
      init.timeoutMs ?? DEFAULT_IPFS_TIMEOUT_MS,
      init.settingNames
    )
    this.apiUrl = this.rpc.apiUrl
    const indexPath = init.indexPath ?? DEFAULT_INDEX_PATH
    if (!/^(\/[\w.-]+)+\/?$/.test(indexPath))
      throw ConfigError.forOption(
        'indexPath',
        `expected an absolute MFS folder such as /sai-images, got ${JSON.stringify(indexPath)}`
      )
    this.index = new MfsIndex(indexPath.replace(/\/$/, ''), this.rpc)
    this.pins = new Pins(this.rpc)
    this.node = { rpc: this.rpc, index: this.index, pins: this.pins }
  }

  get location(): string {
    return this.apiUrl
  }

  async store(input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    return await traced('store', this.driver, undefined, async () => {
      options.signal?.throwIfAborted()
      if (!this.checked) this.background.add(warnIfNotPowerCutSafe(this.rpc), 'ipfs.durability')
      this.checked = true
      const limits = resolveLimits(this.init, options)
      const { bytes, digest } = await readAll(await readInput(input, limits), limits, options.signal)
      const cidOf = await cidLater(bytes, digest.sha256)
      const stored = await this.perSha256.run(
        digest.sha256,
        async () => await storeOnNode(this.node, bytes, digest.sha256, cidOf, options.signal)
      )
      const { cid, isDuplicate, storedAt } = stored
      if (isDuplicate)
        this.background.add(this.index.dropMarkersBefore(digest.sha256, storedAt.getTime()), 'ipfs.markers')
      return { ...digest, hash: cid, key: cid, path: this.pathOf(cid), storedAt, isDuplicate }
    })
  }

  async fetch(ref: string, options: AbortOptions = {}): Promise<Buffer> {
    return await traced('fetch', this.driver, ref, async () => {
      const { cid, fromSha256 } = parseIpfsRef(ref)
      const notFound = (missing: string): NotFoundError => this.notFound(missing, fromSha256)
      return await fetchVerified(
        this.rpc,
        this.pins,
        fromSha256 ? this.index.lookup(ref.toLowerCase(), options.signal) : undefined,
        cid,
        resolveLimits(this.init).maxBytes,
        notFound,
        options.signal
      )
    })
  }

  async fetchStream(ref: string, options: AbortOptions = {}): Promise<Readable> {
    return await traced('fetchStream', this.driver, ref, async () => Readable.from([await this.fetch(ref, options)]))
  }

  /** Pinned means stored; an unreachable node is `ERR_STORAGE_UNAVAILABLE`, never `false`. */
  async exists(ref: string, options: AbortOptions = {}): Promise<boolean> {
    const parsed = parseIpfsRef(ref)
    if (!parsed.fromSha256) return await this.pins.has(parsed.cid, options.signal)
    const [raw, indexed] = await Promise.all([
      this.pins.has(parsed.cid, options.signal),
      this.index.lookup(ref.toLowerCase(), options.signal)
    ])
    return raw || (indexed !== undefined && indexed !== parsed.cid && (await this.pins.has(indexed, options.signal)))
  }

  async stat(ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    return await traced('stat', this.driver, ref, async () => {
      const { cid, fromSha256, sha256: known } = await this.resolve(ref, options.signal)
      // a dag-pb CID names no SHA-256: the bytes tell it (fetch verifies them against the CID)
      const found =
        known === undefined
          ? statOfBytes(await this.fetch(cid, options))
          : await statIndexed(this.rpc, this.pins, this.index, cid, known, options.signal)
      if (found === undefined) throw this.notFound(cid, fromSha256)
      return { hash: cid, sha256: known, path: this.pathOf(cid), key: cid, ...found }
    })
  }

  /** Unpins and removes the index entry; the blocks stay until the node's garbage collection. */
  async delete(ref: string, options: AbortOptions = {}): Promise<boolean> {
    return await traced(
      'delete',
      this.driver,
      ref,
      async () => await deleteObject(this.index, this.pins, await this.target(ref, options), options.signal)
    )
  }

  /** Unpins unless a store renewed the object after `lastStoredAt` (removal.ts: without an atomic step). */
  async deleteIfNotRenewed(ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    return await traced('delete', this.driver, ref, async () => {
      const target = await this.target(ref, options)
      if (target.sha256 === undefined) return false // not stored (a dag-pb CID that is not pinned)
      return await deleteIfNotRenewed(
        this.index,
        this.pins,
        { cid: target.cid, sha256: target.sha256 },
        lastStoredAt,
        options.signal
      )
    })
  }

  /**
   * Every stored (pinned) object: those of the index first, in SHA-256 order with their size and
   * last store time, then pins that have no entry (stored before the index; `reindex()` adds
   * theirs). Holds the set of pinned CIDs.
   */
  list(options: ListOptions = {}): AsyncGenerator<ImageEntry> {
    return tracedIterable('list', this.driver, listStored(this.rpc, this.pins, this.index.root, options), options)
  }

  /** Indexes the pins stored before the index (see reindex.ts). */
  async reindex(options: AbortOptions & { onProgress?: (report: ReindexReport) => void } = {}): Promise<ReindexReport> {
    const pins = await this.pins.all(options.signal)
    return await reindex(
      this.index,
      indexEntries(this.rpc, this.index.root, { signal: options.signal }),
      pins,
      async cid => await this.fetch(cid, options),
      options
    )
  }

  /** Whether a resolved store survives a power cut on this node (durability.ts). */
  async durability(options: AbortOptions = {}): Promise<NodeDurability> {
    return await durabilityOf(this.rpc, options.signal)
  }

  pathOf(ref: string): string {
    return `ipfs://${parseIpfsRef(ref).cid}`
  }

  keyOf(ref: string): string {
    return parseIpfsRef(ref).cid
  }

  /** An HTTP link to the image on the configured gateway, for the dashboard. */
  url(ref: string): string {
    if (this.init.gatewayUrl === undefined)
      throw new ConfigError(settingName(this.init.settingNames, 'gatewayUrl'), 'no gateway is configured for url()')
    return `${String(this.init.gatewayUrl).replace(/\/$/, '')}/ipfs/${parseIpfsRef(ref).cid}`
  }

  async close(): Promise<void> {
    await this.background.settle()
    this.rpc.close()
  }

  /** The CID behind a ref: a SHA-256 hex is looked up in the index, else taken as the raw CID (one block). */
  private async resolve(
    ref: string,
    signal?: AbortSignal
  ): Promise<{ cid: string; fromSha256: boolean; sha256?: string }> {
    const parsed = parseIpfsRef(ref)
    if (!parsed.fromSha256) return { ...parsed, sha256: sha256Of(parsed.cid) }
    const sha256 = ref.toLowerCase()
    return { cid: (await this.index.lookup(sha256, signal)) ?? parsed.cid, fromSha256: true, sha256 }
  }

  /** What a delete removes: the CID, and the SHA-256 of its entry (a pinned dag-pb CID's from its bytes). */
  private async target(ref: string, options: AbortOptions): Promise<{ cid: string; sha256?: string }> {
    const { cid, sha256 } = await this.resolve(ref, options.signal)
    if (sha256 !== undefined || !(await this.pins.has(cid, options.signal))) return { cid, sha256 }
    return { cid, sha256: (await this.stat(cid, options)).sha256 }
  }

  private notFound(cid: string, fromSha256: boolean): NotFoundError {
    return new NotFoundError(cid, this.pathOf(cid), fromSha256 ? SHA256_HINT : undefined)
  }
}

const SHA256_HINT =
  'not in the SHA-256 index, and no single-block image has this digest; an image stored before the index needs `sai-images ipfs-reindex` (or its CID)'
