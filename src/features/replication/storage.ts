/**
 * An `ImageStorage` over a primary and its replicas. A store is durable on the primary and its
 * replication durably recorded (the outbox) before it resolves; the copier ships it. A read hits
 * the primary; a copy found missing or damaged there is read, verified, from a replica, and
 * healed (unless it was evicted on purpose): one policy for every read method (reads.ts). The
 * listing is the union of every copy. Its parts are its own: each command is handed those it needs.
 */
import { Readable } from 'node:stream'
import { StorageUnavailableError } from '../../core/errors.js'
import type { ImageInput } from '../../core/input.js'
import { parseImageRef } from '../../core/ref.js'
import type {
  AbortOptions,
  FetchOptions,
  ImageEntry,
  ImageStat,
  ImageStorage,
  ListOptions,
  StorageResult,
  StoreOptions
} from '../../core/types.js'
import type { VerifyOptions } from '../../core/verify-report.js'
import { afterStore } from './ack.js'
import { BelowSettler, settle } from './below.js'
import { deleteEverywhere, deleteIfNotRenewed } from './deletes.js'
import { evict, type EvictOptions, type EvictReport } from './evict.js'
import { HOW, PRIMARY } from './ledger.js'
import { listCopies } from './listing.js'
import { PARTS, type Parts } from './parts.js'
import { reconcile } from './reconcile.js'
import { status, whereis } from './status.js'
import type {
  DrainReport,
  ReconcileReport,
  ReplicatedStorageInit,
  ReplicatedVerifyReport,
  ReplicationStatus,
  Whereis
} from './types.js'
import { toQueue } from './unqueued.js'
import { verifyReplicated } from './verify.js'

/** A heal's reason, by the primary's failure (reads.ts). */
const REASONS: Record<string, string> = { ERR_INTEGRITY: 'damaged', ERR_STORAGE_UNAVAILABLE: 'unreadable' }

export class ReplicatedStorage implements ImageStorage {
  readonly driver = 'replicated'
  readonly primary: ImageStorage
  readonly replicas: ReplicatedStorageInit['replicas']

  /**
   * Made by `createReplicatedStorage`, which makes its parts. (TypeScript-private rather than `#`:
   * a `#` field cannot be read through a Proxy, and the CLI and the factory's `imageStorage` are one.)
   */
  constructor(
    private readonly init: ReplicatedStorageInit,
    private readonly parts: Parts
  ) {
    this.primary = init.primary
    this.replicas = init.replicas
    this.below = new BelowSettler(parts)
  }

  private readonly below: BelowSettler

  /** For this feature's own modules (parts.ts). */
  get [PARTS](): Parts {
    return this.parts
  }

  get root(): string | undefined {
    return this.primary.root
  }

  get location(): string {
    const replicas = this.replicas.map(r => `${r.name} (${r.storage.location ?? r.storage.driver})`)
    return `${this.primary.location ?? this.primary.driver}, replicated to ${replicas.join(', ')}`
  }

  get quarantine(): ImageStorage['quarantine'] {
    return this.primary.quarantine
  }

  /** The state folder: the outbox, the ledger, the lock and the records (layout.ts). */
  get stateDir(): string {
    return this.parts.layout.dir
  }

  /** Whether this process copies in the background as stores come (the `background` setting). */
  get background(): boolean {
    return this.init.background !== false
  }

  async store(input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    await this.parts.owner.check({ unreachableOk: true, signal: options.signal }) // a replica down never fails a store
    const result = await this.primary.store(input, options)
    const queue = toQueue(this.parts, this.replicas, result) // a duplicate: the replicas without a verified copy
    if (queue.length > 0) await this.parts.outbox.add(result.sha256, queue)
    // on the primary again, should it have been evicted: a later loss of this copy is healed
    if (!result.isDuplicate)
      this.parts.background.add(
        this.parts.ledger.append(PRIMARY, [{ sha256: result.sha256, at: Date.now(), how: HOW.restored }]),
        'replication.ledger-failed'
      )
    const { ack, ackTimeoutMs: timeoutMs = 30_000 } = this.init
    await afterStore(this.parts, result, queue, { ack, timeoutMs, background: this.background, signal: options.signal })
    return result
  }

  /**
   * The verified bytes: a missing or damaged primary copy is read from a replica and healed (reads.ts).
   * `onUnverified` is handed to each copy's fetch: called again for a replica's bytes after a damaged copy.
   */
  async fetch(ref: string, options: FetchOptions = {}): Promise<Buffer> {
    const { sha256 } = parseImageRef(ref)
    const found = await this.parts.reader.need(sha256, async copy => await copy.fetch(sha256, options), options.signal)
    if (found.primaryFailed !== undefined) await this.healFrom(sha256, found.value, found.from, found.primaryFailed)
    return found.value
  }

  /**
   * The verified bytes as a stream, read whole and verified before the first byte goes out: a damaged
   * primary copy is answered from a replica (and healed), not cut off.
   */
  async fetchStream(ref: string, options: AbortOptions = {}): Promise<Readable> {
    return Readable.from([await this.fetch(ref, options)], { objectMode: false })
  }

  async exists(ref: string, options: AbortOptions = {}): Promise<boolean> {
    const { sha256 } = parseImageRef(ref)
    const held = async (copy: ImageStorage): Promise<true | undefined> =>
      (await copy.exists(sha256, options)) ? true : undefined
    return (await this.parts.reader.read(sha256, held, options.signal))?.value === true
  }

  /**
   * The primary's stat; a lost primary copy is healed first; an evicted frame's is a replica's,
   * with its last store.
   */
  async stat(ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    const { sha256 } = parseImageRef(ref)
    const found = await this.parts.reader.need(sha256, async copy => await copy.stat(sha256, options), options.signal)
    if (found.primaryFailed === undefined) return found.value
    if (!this.parts.ledger.isEvicted(sha256)) {
      // lost from the primary: healed from a verified copy, and the primary's stat is the answer
      await this.fetch(sha256, options)
      return await this.primary.stat(sha256, options).catch(() => found.value) // (a failed heal is logged)
    }
    const mark = this.parts.ledger.lookup(PRIMARY, sha256)
    return mark?.lastStoredAt !== undefined
      ? { ...found.value, lastStoredAt: new Date(mark.lastStoredAt) }
      : found.value
  }

  /** Deletes every copy (deletes.ts). */
  async delete(ref: string, options: AbortOptions = {}): Promise<boolean> {
    await this.parts.owner.check(options)
    return await deleteEverywhere(this.parts, parseImageRef(ref).sha256, options)
  }

  /** Deletes every copy, unless a store renewed the object after `lastStoredAt` (deletes.ts). */
  async deleteIfNotRenewed(ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    await this.parts.owner.check(options)
    return await deleteIfNotRenewed(this.parts, parseImageRef(ref).sha256, lastStoredAt, options)
  }

  /** Every object on any copy, in SHA-256 order: the primary's entry where it has one (listing.ts). */
  async *list(options: ListOptions = {}): AsyncGenerator<ImageEntry> {
    yield* listCopies(this.primary, this.replicas, this.parts.ledger, options)
  }

  /** Every copy checked; a repair heals from the replicas (verify.ts). */
  async verify(options: VerifyOptions = {}): Promise<ReplicatedVerifyReport> {
    await this.parts.owner.check({ ...options, readOnly: options.repair !== true }) // others' frames: read missing
    const stormLimit = options.stormLimit ?? { count: this.init.stormLimit }
    return await verifyReplicated(this.parts, { ...options, stormLimit })
  }

  /** Copies what the outbox holds, now; a replica in backoff too, unless `backoff` (a service's rounds). */
  async drain(options: AbortOptions & { backoff?: boolean } = {}): Promise<DrainReport> {
    const report = await this.parts.copier.drain(options.signal, options.backoff !== true)
    // the last reconcile's count of frames below their copies, less those its queued copies made whole
    if (!report.busy) await this.below.afterCopies()
    return report
  }

  /** Resolves once no background drain runs here (nor one a store asked for after it). */
  async idle(): Promise<void> {
    await this.parts.copier.idle()
  }

  /** Compares every copy's listing, queues what a replica lacks (reconcile.ts). */
  async reconcile(options: AbortOptions = {}): Promise<ReconcileReport> {
    await this.parts.owner.check(options)
    const report = await reconcile(this.parts, options)
    await settle(this.parts) // a drain elsewhere (the watcher) may have made its copies already
    return report
  }

  /** Frees the primary of old frames whose replica copies are verified now (evict.ts). */
  async evict(options: EvictOptions): Promise<EvictReport> {
    await this.parts.owner.check(options)
    return await evict(this.parts, options)
  }

  status(): ReplicationStatus {
    return status(this.parts)
  }

  async whereis(ref: string, options: AbortOptions = {}): Promise<Whereis> {
    return await whereis(this.parts, ref, options)
  }

  /**
   * A link from the first copy that holds the object and gives one (a replica's presigned link for
   * an evicted frame).
   */
  async url(ref: string, options: { expiresIn?: number } = {}): Promise<string> {
    const { sha256 } = parseImageRef(ref)
    // never to a copy found damaged (the client takes its bytes unverified)
    const link = async (copy: ImageStorage, name: string): Promise<string | undefined> =>
      copy.url !== undefined &&
      this.parts.ledger.lookup(name, sha256)?.how !== HOW.damaged &&
      (await copy.exists(sha256))
        ? await copy.url(sha256, options)
        : undefined
    const found = await this.parts.reader.read(sha256, link)
    if (found !== undefined) return found.value
    const drivers = this.replicas.map(r => r.storage.driver).join(', ')
    throw new StorageUnavailableError(
      `no copy of ${ref} gives a link (url): the primary is ${this.primary.driver}, the replicas ${drivers}`,
      this.pathOf(ref)
    )
  }

  pathOf(ref: string): string {
    return this.primary.pathOf(ref)
  }

  keyOf(ref: string): string {
    return this.primary.keyOf(ref)
  }

  async close(): Promise<void> {
    await this.parts.copier.stop()
    await this.parts.background.settle()
    await Promise.all([this.primary, ...this.replicas.map(r => r.storage)].map(async storage => await storage.close()))
  }

  /** Heals the primary from a replica's verified bytes (heal.ts says when it does not). */
  private async healFrom(sha256: string, bytes: Buffer, from: string, primaryFailed: string): Promise<void> {
    if (await this.parts.owner.ownedByAnother(from).catch(() => true)) return // (unread: the next read heals)
    await this.parts.healer.writeBack(sha256, bytes, from, REASONS[primaryFailed] ?? 'missing')
  }
}
