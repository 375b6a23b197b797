/**
 * Stores images on a Kubo node over its HTTP RPC API: the hash is the CID (CIDv1, base32), the
 * path `ipfs://<cid>`. Pinned means stored; garbage collection of unpinned blocks is the node's job.
 *
 * Every CID is computed here before the node is asked, and every fetched byte is checked against
 * it: a node (or a proxy) that answers with other bytes or another CID is `ERR_INTEGRITY`.
 * `kubo-rpc-client` and `ipfs-unixfs-importer` are loaded on first use, so nobody else loads them.
 *
 * @example
 * ```ts
 * const storage = new IpfsDriver({ url: 'http://127.0.0.1:5001', gatewayUrl: 'https://gw.example' })
 * const { hash, path } = await storage.store(jpeg) // 'bafkrei…', 'ipfs://bafkrei…'
 * storage.url(hash) // 'https://gw.example/ipfs/bafkrei…'
 * ```
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { KuboRPCClient } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
import { ConfigError, ImageStorageError, InvalidRefError, IntegrityError, NotFoundError, StorageUnavailableError, TooLargeError } from '../../src/core/errors.js'
import { readAll, readInput, type ImageInput } from '../../src/core/input.js'
import { resolveLimits, type LimitsInit } from '../../src/core/limits.js'
import { SNIFF_BYTES, sniffImageType, UNKNOWN_MIME_TYPE } from '../../src/core/mime.js'
import { RAW_CODEC, SHA2_256, sha256ToCid } from '../../src/core/ref.js'
import type { AbortOptions, ImageEntry, ImageStat, ImageStorage, StorageResult, StoreOptions } from '../../src/core/types.js'
import { ADD_OPTIONS, canonicalCid, cidOf } from './cid.js'
import { DEFAULT_INDEX_PATH, MfsIndex } from './mfs-index.js'

export const DEFAULT_IPFS_API_URL = 'http://127.0.0.1:5001'
export const DEFAULT_IPFS_TIMEOUT_MS = 30_000
const DAG_PB_CODEC = 0x70

export interface IpfsDriverInit extends LimitsInit {
  /** The node's RPC API. Default `http://127.0.0.1:5001`. Credentials in the URL become Basic auth. */
  url?: string | URL
  /** The `Authorization` header for a node behind `API.Authorizations`: `Bearer …`, `Basic …`, or `user:password`. */
  auth?: string
  /** Each call to the node is aborted after this long. Default 30 s. */
  timeoutMs?: number
  /** A gateway for `url(ref)`, e.g. `https://ipfs.example.org`. */
  gatewayUrl?: string | URL
  /** The MFS folder of the SHA-256 → CID index. Default `/sai-images`. */
  indexPath?: string
}

export interface ReindexReport {
  /** Pins that had no index entry and got one. */
  indexed: number
  /** Pins that had their entry already. */
  alreadyIndexed: number
  /** Index entries whose object is not pinned (not stored): listed, left alone. */
  unpinnedEntries: Array<{ sha256: string, cid: string }>
}

export class IpfsDriver implements ImageStorage {
  readonly driver = 'ipfs'
  /** The API URL with any credentials removed: safe to print. */
  readonly apiUrl: string
  private readonly init: Pick<IpfsDriverInit, 'maxBytes' | 'allowNonImage' | 'gatewayUrl'>
  /** A true private field: neither JSON.stringify nor util.inspect (so no logger) shows it. */
  readonly #authorization?: string
  private readonly timeoutMs: number
  private client?: Promise<KuboRPCClient>
  /** Stores of one CID in this process run one after another, so `isDuplicate` is exact here. */
  private readonly inflight = new Map<string, Promise<unknown>>()
  private readonly index: MfsIndex

  constructor (init: IpfsDriverInit = {}) {
    this.init = { maxBytes: init.maxBytes, allowNonImage: init.allowNonImage, gatewayUrl: init.gatewayUrl }
    const url = new URL(init.url ?? DEFAULT_IPFS_API_URL)
    if (url.username !== '' || url.password !== '') {
      this.#authorization = basic(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`)
      url.username = url.password = ''
    }
    if (init.auth !== undefined) this.#authorization = /^(Basic|Bearer) \S+$/.test(init.auth) ? init.auth : basic(init.auth)
    this.apiUrl = url.toString().replace(/\/$/, '')
    this.timeoutMs = init.timeoutMs ?? DEFAULT_IPFS_TIMEOUT_MS
    const indexPath = init.indexPath ?? DEFAULT_INDEX_PATH
    if (!/^(\/[\w.-]+)+\/?$/.test(indexPath)) throw new ConfigError('SAI_IPFS_INDEX_PATH', `expected an absolute MFS folder such as /sai-images, got ${JSON.stringify(indexPath)}`)
    this.index = new MfsIndex(indexPath.replace(/\/$/, ''), this.call.bind(this))
  }

  async store (input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    options.signal?.throwIfAborted()
    const limits = resolveLimits(this.init, options)
    const { bytes, digest } = await readAll(await readInput(input, limits), limits, options.signal)
    const cid = await cidOf(bytes, digest.sha256)
    return await this.exclusive(cid, async () => {
      const result = { ...digest, hash: cid, key: cid, path: this.pathOf(cid), storedAt: new Date() }
      const [indexed, pinned] = await Promise.all([this.index.lookup(digest.sha256, options.signal), this.isPinned(cid, options.signal)])
      if (indexed === cid && pinned) {
        // a duplicate store renews the object's time, then checks that no prune unpinned it meanwhile
        await this.index.touch(digest.sha256, result.storedAt, options.signal)
        if (await this.isPinned(cid, options.signal)) return { ...result, isDuplicate: true }
        await this.add(bytes, cid, options.signal)
        return { ...result, isDuplicate: false }
      }
      if (!pinned) await this.add(bytes, cid, options.signal)
      // the entry is made once the object is pinned; of racing writers, one creates it
      if (indexed !== undefined && indexed !== cid) await this.index.remove(digest.sha256, options.signal) // an entry for other bytes: replaced
      // the entry and its time side by side: the node runs MFS writes one at a time, but the round trips overlap
      const [created] = await Promise.all([this.index.claim(digest.sha256, cid, options.signal), this.index.touch(digest.sha256, result.storedAt, options.signal)])
      // stored before the index (pinned, no entry): a duplicate; re-pinned under an old entry: stored anew
      return { ...result, isDuplicate: pinned || (!created && indexed === undefined) }
    })
  }

  async fetch (ref: string, options: AbortOptions = {}): Promise<Buffer> {
    const { cid, fromSha256 } = await this.resolve(ref, options.signal)
    const { maxBytes } = resolveLimits(this.init)
    // pinned means stored; asked alongside cat, which would wait for the network on a missing CID
    const cat = new AbortController()
    const pinned = this.isPinned(cid, options.signal).then(isPinned => {
      if (!isPinned) cat.abort(this.notFound(cid, fromSha256))
    }, (err: unknown) => cat.abort(err))
    const signal = options.signal === undefined ? cat.signal : AbortSignal.any([options.signal, cat.signal])
    const bytes = await this.call('cat', signal, async (ipfs, callSignal) => {
      const chunks: Uint8Array[] = []
      let size = 0
      for await (const chunk of ipfs.cat(cid, { signal: callSignal, length: maxBytes + 1 })) {
        size += chunk.byteLength
        if (size > maxBytes) throw new TooLargeError(maxBytes)
        chunks.push(chunk)
      }
      return Buffer.concat(chunks, size)
    }).finally(async () => {
      await pinned // a missing pin explains a failed cat better than cat's own error
      cat.signal.throwIfAborted()
    })
    // Kubo reports an error after the body has started only in a trailer fetch cannot see: check the bytes
    const actual = await cidOf(bytes)
    if (actual !== cid) throw new IntegrityError(cid, actual, this.pathOf(cid))
    return bytes
  }

  async fetchStream (ref: string, options: AbortOptions = {}): Promise<Readable> {
    return Readable.from([await this.fetch(ref, options)])
  }

  /** Pinned means stored. An unreachable node is `ERR_STORAGE_UNAVAILABLE`, never `false`. */
  async exists (ref: string, options: AbortOptions = {}): Promise<boolean> {
    return await this.isPinned((await this.resolve(ref, options.signal)).cid, options.signal)
  }

  async stat (ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    const { cid, fromSha256, sha256: known } = await this.resolve(ref, options.signal)
    if (known === undefined) {
      // a dag-pb CID names no SHA-256: the bytes tell it (fetch verifies them against the CID)
      const bytes = await this.fetch(cid, options)
      return { hash: cid, sha256: createHash('sha256').update(bytes).digest('hex'), path: this.pathOf(cid), key: cid, size: bytes.length, mimeType: sniffImageType(bytes) ?? UNKNOWN_MIME_TYPE }
    }
    if (!await this.isPinned(cid, options.signal)) throw this.notFound(cid, fromSha256)
    const [stat, head, lastStoredAt] = await this.call('stat', options.signal, async (ipfs, signal) => await Promise.all([
      ipfs.files.stat(`/ipfs/${cid}`, { signal }),
      (async () => {
        const chunks: Uint8Array[] = []
        for await (const chunk of ipfs.cat(cid, { signal, length: SNIFF_BYTES })) chunks.push(chunk)
        return Buffer.concat(chunks)
      })(),
      this.index.storedTime(known, signal)
    ]))
    return { hash: cid, sha256: known, path: this.pathOf(cid), key: cid, size: Number(stat.size), lastStoredAt, mimeType: sniffImageType(head) ?? UNKNOWN_MIME_TYPE }
  }

  /**
   * Unpins and removes the index entry. The blocks stay until the node's garbage collection
   * (`ipfs repo gc`) removes them.
   */
  async delete (ref: string, options: AbortOptions = {}): Promise<boolean> {
    const resolved = await this.resolve(ref, options.signal)
    const { cid } = resolved
    const pinned = await this.isPinned(cid, options.signal)
    const sha256 = resolved.sha256 ?? (pinned ? (await this.stat(cid, options)).sha256 : undefined)
    if (pinned) await this.call('pin/rm', options.signal, async (ipfs, signal) => await ipfs.pin.rm(cid, { signal }))
    const unindexed = sha256 === undefined ? false : await this.index.remove(sha256, options.signal)
    return pinned || unindexed
  }

  /**
   * Unpins unless a store renewed the object after `lastStoredAt`. IPFS has no atomic step for
   * it, so: unpin, then read the time again, and pin again if a store renewed it meanwhile; a store
   * renews first and then checks the pin, and adds the bytes again if it is gone.
   */
  async deleteIfNotRenewed (ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    const { cid, sha256 } = await this.resolve(ref, options.signal)
    const renewed = async (): Promise<boolean> => sha256 !== undefined && (await this.index.storedTime(sha256, options.signal))?.getTime() !== lastStoredAt.getTime()
    if (await renewed() || !await this.isPinned(cid, options.signal)) return false
    await this.call('pin/rm', options.signal, async (ipfs, signal) => await ipfs.pin.rm(cid, { signal }))
    if (await renewed()) {
      await this.call('pin/add', options.signal, async (ipfs, signal) => await ipfs.pin.add(CID.parse(cid), { signal }))
      return false
    }
    if (sha256 !== undefined) await this.index.remove(sha256, options.signal)
    return true
  }

  /**
   * Every stored (pinned) object: those of the index first, with their SHA-256, then pins that
   * have no entry (stored before the index; `reindex()` adds theirs). Holds the set of pinned CIDs.
   */
  async * list (options: AbortOptions = {}): AsyncGenerator<ImageEntry> {
    const pins = await this.pins(options.signal)
    for await (const { sha256, cid } of this.index.entries(options.signal)) {
      if (!pins.delete(cid)) continue // an entry whose object is not pinned is not stored
      yield { hash: cid, sha256, key: cid, path: this.pathOf(cid) }
    }
    for (const cid of pins) yield { hash: cid, sha256: sha256Of(cid), key: cid, path: this.pathOf(cid) }
  }

  /**
   * Adds the index entries that pins stored before the index lack (each object is fetched,
   * verified and hashed), and lists entries whose object is not pinned. Safe to rerun.
   */
  async reindex (options: AbortOptions & { onProgress?: (report: ReindexReport) => void } = {}): Promise<ReindexReport> {
    const report: ReindexReport = { indexed: 0, alreadyIndexed: 0, unpinnedEntries: [] }
    const pins = await this.pins(options.signal)
    for await (const entry of this.index.entries(options.signal)) {
      if (pins.delete(entry.cid)) report.alreadyIndexed++
      else report.unpinnedEntries.push(entry)
    }
    for (const cid of pins) {
      options.signal?.throwIfAborted()
      const sha256 = sha256Of(cid) ?? createHash('sha256').update(await this.fetch(cid, options)).digest('hex')
      if (await this.index.claim(sha256, cid, options.signal)) report.indexed++
      else report.alreadyIndexed++
      options.onProgress?.(report)
    }
    return report
  }

  pathOf (ref: string): string {
    return `ipfs://${parseIpfsRef(ref).cid}`
  }

  keyOf (ref: string): string {
    return parseIpfsRef(ref).cid
  }

  /** An HTTP link to the image on the configured gateway, for the dashboard. */
  url (ref: string): string {
    if (this.init.gatewayUrl === undefined) throw new ConfigError('SAI_IPFS_GATEWAY_URL', 'no gateway is configured for url()')
    return `${String(this.init.gatewayUrl).replace(/\/$/, '')}/ipfs/${parseIpfsRef(ref).cid}`
  }

  async close (): Promise<void> {}

  private async add (bytes: Uint8Array, cid: string, signal?: AbortSignal): Promise<void> {
    const added = await this.call('add', signal, async (ipfs, callSignal) => await ipfs.add(bytes, { ...ADD_OPTIONS, signal: callSignal }))
    const actual = canonicalCid(added.cid)
    if (actual !== cid) throw new IntegrityError(cid, actual, this.apiUrl)
  }

  /** The CID behind a ref: a SHA-256 hex is looked up in the index, else taken as the raw CID (one block). */
  private async resolve (ref: string, signal?: AbortSignal): Promise<{ cid: string, fromSha256: boolean, sha256?: string }> {
    const parsed = parseIpfsRef(ref)
    if (!parsed.fromSha256) return { ...parsed, sha256: sha256Of(parsed.cid) }
    const sha256 = ref.toLowerCase()
    return { cid: await this.index.lookup(sha256, signal) ?? parsed.cid, fromSha256: true, sha256 }
  }

  private async pins (signal?: AbortSignal): Promise<Set<string>> {
    return await this.call('pin/ls', signal, async (ipfs, callSignal) => {
      const pins = new Set<string>()
      for await (const pin of ipfs.pin.ls({ type: 'recursive', signal: callSignal })) pins.add(canonicalCid(pin.cid))
      return pins
    })
  }

  private async isPinned (cid: string, signal?: AbortSignal): Promise<boolean> {
    return await this.call('pin/ls', signal, async (ipfs, callSignal) => {
      try {
        for await (const pin of ipfs.pin.ls({ paths: [CID.parse(cid)], type: 'recursive', signal: callSignal })) {
          if (canonicalCid(pin.cid) === cid) return true
        }
        return false
      } catch (err) {
        if (/not pinned|no link named|not found|could not find/i.test((err as Error).message)) return false
        throw err
      }
    })
  }

  private notFound (cid: string, fromSha256: boolean): NotFoundError {
    return new NotFoundError(cid, this.pathOf(cid), fromSha256 ? SHA256_HINT : undefined)
  }

  private async exclusive<T> (cid: string, work: () => Promise<T>): Promise<T> {
    while (this.inflight.has(cid)) await this.inflight.get(cid)!.catch(() => {})
    const running = work()
    this.inflight.set(cid, running)
    try {
      return await running
    } finally {
      this.inflight.delete(cid)
    }
  }

  private async connect (): Promise<KuboRPCClient> {
    this.client ??= import('kubo-rpc-client').then(
      ({ create }) => create({ url: this.apiUrl, headers: this.#authorization === undefined ? {} : { authorization: this.#authorization } }),
      (err: unknown) => {
        this.client = undefined
        throw new ConfigError('SAI_IMAGE_STORAGE_DRIVER', `the IPFS driver needs the packages kubo-rpc-client and ipfs-unixfs-importer: npm install kubo-rpc-client ipfs-unixfs-importer (${(err as Error).message})`)
      })
    return await this.client
  }

  /** The caller's signal and this driver's timeout, in one: kubo-rpc-client's own `timeout` option is never applied. */
  private signal (signal?: AbortSignal): AbortSignal {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    return signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  }

  /**
   * One RPC call with the timeout, its failures made typed. A call that only reads is made once
   * more if its connection was closed under it: a kept-alive connection that the node (or a proxy)
   * closed as idle just as the request went out on it.
   */
  private async call<T> (name: string, signal: AbortSignal | undefined, work: (ipfs: KuboRPCClient, signal: AbortSignal) => Promise<T>): Promise<T> {
    signal?.throwIfAborted()
    const ipfs = await this.connect()
    for (let attempt = 1; ; attempt++) {
      try {
        return await work(ipfs, this.signal(signal))
      } catch (err) {
        if (attempt === 1 && READS.has(name) && closedUnder(err) && signal?.aborted !== true) continue
        throw this.failure(err, name, signal)
      }
    }
  }

  private failure (err: unknown, name: string, signal?: AbortSignal): unknown {
    if (signal?.aborted === true) return signal.reason
    if (err instanceof ImageStorageError) return err
    const error = err as Error
    const why = error.name === 'TimeoutError'
      ? `no answer within ${this.timeoutMs} ms (SAI_IPFS_TIMEOUT_MS)`
      : `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`
    return new StorageUnavailableError(`IPFS node unavailable at ${this.apiUrl} (${name}): ${why}. Check the node or set SAI_IPFS_API_URL.`, this.apiUrl, { cause: redact(err, this.#authorization) })
  }
}

/** The RPC calls that change nothing on the node: safe to make twice. */
const READS = new Set(['cat', 'stat', 'pin/ls', 'files/stat', 'files/read', 'files/ls'])

/** The connection was closed or reset under the request (fetch's own error, or its cause). */
function closedUnder (err: unknown): boolean {
  for (let e = err as { code?: string, cause?: unknown } | undefined, depth = 0; e != null && depth < 4; e = e.cause as typeof e, depth++) {
    if (['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(e.code ?? '')) return true
  }
  return false
}

const SHA256_HINT = 'not in the SHA-256 index, and no single-block image has this digest; an image stored before the index needs `sai-images ipfs-reindex` (or its CID)'

/** A ref for the IPFS driver: any sha2-256 CID of raw or dag-pb data, or a SHA-256 hex. */
export function parseIpfsRef (ref: unknown): { cid: string, fromSha256: boolean } {
  if (typeof ref === 'string' && /^[0-9a-fA-F]{64}$/.test(ref)) return { cid: sha256ToCid(ref.toLowerCase()), fromSha256: true }
  if (typeof ref !== 'string' || !/^[a-zA-Z0-9]{1,200}$/.test(ref)) throw new InvalidRefError(ref, 'expected a CID or a 64-character SHA-256 hex digest')
  let cid: CID
  try {
    cid = CID.parse(ref)
  } catch {
    throw new InvalidRefError(ref, 'not a CID')
  }
  if ((cid.code !== RAW_CODEC && cid.code !== DAG_PB_CODEC) || cid.multihash.code !== SHA2_256) {
    throw new InvalidRefError(ref, 'only sha2-256 CIDs of raw or dag-pb data name images')
  }
  return { cid: canonicalCid(cid), fromSha256: false }
}

/** The SHA-256 of the bytes, where the CID holds it: a raw CID. */
function sha256Of (cid: string): string | undefined {
  const parsed = CID.parse(cid)
  return parsed.code === RAW_CODEC ? Buffer.from(parsed.multihash.digest).toString('hex') : undefined
}

function basic (credentials: string): string {
  return `Basic ${Buffer.from(credentials).toString('base64')}`
}

/** The cause, with any trace of the credentials removed before it reaches a log. */
function redact (err: unknown, authorization?: string): unknown {
  if (authorization === undefined || !(err instanceof Error)) return err
  const secret = authorization.split(' ')[1]!
  return new Error(err.message.split(secret).join('[redacted]'))
}
