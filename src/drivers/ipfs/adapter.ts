/**
 * What the IPFS driver does on the node, under the front (core/front.ts), keyed by CID: a store
 * (store.ts), verified reads (fetch.ts), pins (pins.ts), the SHA-256 index (mfs-index.ts).
 */
import type { PutOptions, StatFields, Stored, StorageAdapter } from '../../core/adapter.js'
import { Background } from '../../core/background.js'
import { checkWhole } from '../../core/checks.js'
import { KeyedLock } from '../../core/concurrency.js'
import { ConfigError, NotFoundError } from '../../core/errors.js'
import type { Digest } from '../../core/hashing.js'
import { resolveLimits } from '../../core/input.js'
import type { ImageEntry, ListOptions } from '../../core/types.js'
import { CHUNK_SIZE, cidLater } from './cid.js'
import { KuboConnection } from './client.js'
import { warnIfNotPowerCutSafe } from './durability.js'
import { fetchVerified } from './fetch.js'
import { DEFAULT_IPFS_API_URL, DEFAULT_IPFS_TIMEOUT_MS, type IpfsDriverInit } from './init.js'
import { listStored } from './listing.js'
import { DEFAULT_INDEX_PATH, MfsIndex } from './mfs-index.js'
import { Pins } from './pins.js'
import { parseIpfsRef, sha256Of } from './ref.js'
import { deleteIfNotRenewed, deleteObject } from './removal.js'
import { statIndexed, statOfBytes } from './stat.js'
import { storeOnNode, type Node } from './store.js'

/** A parsed ref: its CID, and the SHA-256 it was given as (looked up in the index first). */
export interface IpfsKey {
  cid: string
  fromSha256: boolean
  sha256?: string
}

export class IpfsAdapter implements StorageAdapter<IpfsKey> {
  readonly driver = 'ipfs'
  /** The SHA-256 of an image's first chunk comes with its digest: a large image's CID hashes it once (cid.ts). */
  readonly prefixBytes = CHUNK_SIZE
  /** The API URL with any credentials removed: safe to print. */
  readonly location: string
  readonly rpc: KuboConnection
  readonly index: MfsIndex
  readonly pins: Pins
  private readonly init: Pick<IpfsDriverInit, 'maxBytes' | 'allowNonImage' | 'gatewayUrl'>
  /** Stores of one image in this process run one after another (across processes, the entry decides). */
  private readonly perSha256 = new KeyedLock()
  /** Drops a duplicate's older markers after the store. */
  private readonly background = new Background()
  private readonly node: Node
  private checked = false

  constructor(init: IpfsDriverInit) {
    const { maxBytes, allowNonImage, gatewayUrl } = init
    this.init = { maxBytes, allowNonImage, gatewayUrl }
    const url = init.url ?? DEFAULT_IPFS_API_URL
    checkWhole('timeoutMs', init.timeoutMs, { of: 'ms' }) // NaN or 0: every call would fail at once
    this.rpc = new KuboConnection(url, init.auth, init.timeoutMs ?? DEFAULT_IPFS_TIMEOUT_MS)
    this.location = this.rpc.apiUrl
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

  key(ref: string): IpfsKey {
    const parsed = parseIpfsRef(ref)
    return parsed.fromSha256 ? { ...parsed, sha256: ref.toLowerCase() } : parsed
  }

  place({ cid }: IpfsKey): { hash: string; key: string; url: string } {
    return { hash: cid, key: cid, url: `ipfs://${cid}` }
  }

  prepare(): void {
    if (!this.checked) this.background.add(warnIfNotPowerCutSafe(this.rpc), 'ipfs.durability')
    this.checked = true
  }

  async put(bytes: Buffer, digest: Digest, options: PutOptions): Promise<Stored<IpfsKey>> {
    const { sha256 } = digest
    const cidOf = await cidLater(bytes, sha256, digest.prefixSha256)
    const store = async (): Promise<Awaited<ReturnType<typeof storeOnNode>>> =>
      await storeOnNode(this.node, bytes, sha256, cidOf, options.signal)
    const { cid, isDuplicate, storedAt } = await this.perSha256.run(sha256, store)
    if (isDuplicate) this.background.add(this.index.dropMarkersBefore(sha256, storedAt.getTime()), 'ipfs.markers')
    const kept = isDuplicate ? undefined : options.keepTimes // a new copy's history (migrate)
    const first =
      kept === undefined ? storedAt : await this.index.backdate(sha256, storedAt.getTime(), kept, options.signal)
    return { key: { cid, fromSha256: false }, isDuplicate, storedAt: first }
  }

  async get({ cid, fromSha256, sha256 }: IpfsKey, signal?: AbortSignal): Promise<Buffer> {
    const indexed = sha256 === undefined ? undefined : this.index.lookup(sha256, signal)
    const notFound = (missing: string): NotFoundError => this.notFound(missing, fromSha256)
    return await fetchVerified(this.rpc, this.pins, indexed, cid, resolveLimits(this.init).maxBytes, notFound, signal)
  }

  /** Pinned means stored; an unreachable node is `ERR_STORAGE_UNAVAILABLE`, never `false`. */
  async has({ cid, sha256 }: IpfsKey, signal?: AbortSignal): Promise<boolean> {
    if (sha256 === undefined) return await this.pins.has(cid, signal)
    const [raw, indexed] = await Promise.all([this.pins.has(cid, signal), this.index.lookup(sha256, signal)])
    return raw || (indexed !== undefined && indexed !== cid && (await this.pins.has(indexed, signal)))
  }

  async stat(key: IpfsKey, signal?: AbortSignal): Promise<StatFields<IpfsKey>> {
    const { cid, sha256 } = await this.resolve(key, signal)
    // a dag-pb CID names no SHA-256: the bytes tell it (get verifies them against the CID)
    const found =
      sha256 === undefined
        ? statOfBytes(await this.get({ cid, fromSha256: false }, signal))
        : await statIndexed(this.rpc, this.pins, this.index, cid, sha256, signal)
    if (found === undefined) throw this.notFound(cid, key.fromSha256)
    return { sha256, ...found, key: { cid, fromSha256: false } }
  }

  /** Unpins and removes the index entry; the blocks stay until the node's garbage collection. */
  async delete(key: IpfsKey, signal?: AbortSignal): Promise<boolean> {
    return await deleteObject(this.index, this.pins, await this.target(key, signal), signal)
  }

  /** Unpins unless a store renewed the object after `lastStoredAt` (removal.ts: without an atomic step). */
  async deleteIfNotRenewed(key: IpfsKey, lastStoredAt: Date, signal?: AbortSignal): Promise<boolean> {
    const { cid, sha256 } = await this.target(key, signal)
    if (sha256 === undefined) return false // not stored (a dag-pb CID that is not pinned)
    return await deleteIfNotRenewed(this.index, this.pins, { cid, sha256 }, lastStoredAt, signal)
  }

  /**
   * Every stored (pinned) object: those of the index first, in SHA-256 order with their size and
   * last store time, then pins that have no entry (stored before the index; `reindex()` adds
   * theirs). Holds the set of pinned CIDs.
   */
  list(options: ListOptions): AsyncGenerator<ImageEntry> {
    return listStored(this.rpc, this.pins, this.index.root, options)
  }

  /** An HTTP link to the image on the configured gateway, for the dashboard. */
  url({ cid }: IpfsKey): string {
    if (this.init.gatewayUrl === undefined)
      throw ConfigError.forOption('gatewayUrl', 'no gateway is configured for url()')
    return `${String(this.init.gatewayUrl).replace(/\/$/, '')}/ipfs/${cid}`
  }

  async close(): Promise<void> {
    await this.background.settle()
    this.rpc.close()
  }

  /** The CID behind a key: a SHA-256 is looked up in the index, else the key is the raw CID (one block). */
  private async resolve(key: IpfsKey, signal?: AbortSignal): Promise<{ cid: string; sha256?: string }> {
    if (key.sha256 === undefined) return { cid: key.cid, sha256: sha256Of(key.cid) }
    return { cid: (await this.index.lookup(key.sha256, signal)) ?? key.cid, sha256: key.sha256 }
  }

  /** What a delete removes: the CID, and the SHA-256 of its entry (a pinned dag-pb CID's from its bytes). */
  private async target(key: IpfsKey, signal?: AbortSignal): Promise<{ cid: string; sha256?: string }> {
    const { cid, sha256 } = await this.resolve(key, signal)
    if (sha256 !== undefined || !(await this.pins.has(cid, signal))) return { cid, sha256 }
    return { cid, sha256: (await this.stat({ cid, fromSha256: false }, signal)).sha256 }
  }

  private notFound(cid: string, fromSha256: boolean): NotFoundError {
    return new NotFoundError(cid, `ipfs://${cid}`, fromSha256 ? SHA256_HINT : undefined)
  }
}

const SHA256_HINT =
  'not in the SHA-256 index, and no single-block image has this digest; an image stored before the index needs ' +
  '`sai-images ipfs-reindex` (or its CID)'
