/**
 * An `ImageStorage` over a primary and its replicas. A store is durable on the primary and its
 * replication durably recorded (the outbox) before it resolves; the copier ships it. A read hits
 * the primary; a copy found missing or damaged there is read, verified, from a replica, and
 * healed (unless it was evicted on purpose). The listing is the union of every copy.
 */
import { Readable } from 'node:stream'
import type { Background } from '../../core/background.js'
import { StorageUnavailableError } from '../../core/errors.js'
import type { ImageInput } from '../../core/input.js'
import { parseImageRef } from '../../core/ref.js'
import type {
  AbortOptions,
  ImageEntry,
  ImageStat,
  ImageStorage,
  ListOptions,
  StorageResult,
  StoreOptions
} from '../../core/types.js'
import type { VerifyOptions, VerifyReport } from '../../core/verify-report.js'
import type { Copier, DrainReport } from './copier.js'
import { evict, type EvictOptions, type EvictReport } from './evict.js'
import type { Healer } from './heal.js'
import { PRIMARY, type Ledger } from './ledger.js'
import type { CopyReader } from './reads.js'
import { listCopies } from './listing.js'
import type { Outbox } from './outbox.js'
import type { ReplicaOwnership } from './owner.js'
import { reconcile } from './reconcile.js'
import { status, whereis } from './status.js'
import type { ReconcileReport, ReplicatedStorageInit, ReplicationStatus, Whereis } from './types.js'
import { toQueue } from './unqueued.js'
import { verifyReplicated } from './verify.js'

export interface Parts {
  outbox: Outbox
  ledger: Ledger
  copier: Copier
  healer: Healer
  reader: CopyReader
  /** One primary per replica: every call that writes to a replica asks it first (owner.ts). */
  owner: ReplicaOwnership
  background: Background
  stateDir: string
}

export class ReplicatedStorage implements ImageStorage {
  readonly driver = 'replicated'
  readonly primary: ImageStorage
  readonly replicas: ReplicatedStorageInit['replicas']

  constructor(
    readonly init: ReplicatedStorageInit,
    readonly parts: Parts
  ) {
    this.primary = init.primary
    this.replicas = init.replicas
  }

  get root(): string | undefined {
    return this.primary.root
  }

  get location(): string {
    return `${this.primary.location ?? this.primary.driver}, replicated to ${this.replicas.map(r => `${r.name} (${r.storage.location ?? r.storage.driver})`).join(', ')}`
  }

  get quarantine(): ImageStorage['quarantine'] {
    return this.primary.quarantine
  }

  async store(input: ImageInput, options: StoreOptions = {}): Promise<StorageResult> {
    await this.parts.owner.check({ unreachableOk: true }) // a replica down never fails a store
    const result = await this.primary.store(input, options)
    const queue = toQueue(this.parts, this.replicas, result) // a duplicate: the replicas without a verified copy
    if (queue.length > 0) await this.parts.outbox.add(result.sha256, queue)
    // on the primary again, should it have been evicted: a later loss of this copy is healed
    if (!result.isDuplicate)
      this.parts.background.add(
        this.parts.ledger.append(PRIMARY, [{ sha256: result.sha256, at: Date.now(), how: 'restored' }]),
        'replication.ledger-failed'
      )
    if (queue.length === 0) return result // every replica holds it, verified: nothing to wait for
    if (this.init.ack === 2) await this.acknowledged(result.sha256, options.signal)
    else if (this.init.background !== false) this.parts.copier.kick()
    return result
  }

  /** The verified bytes: a missing or damaged primary copy is read from a replica and healed (reads.ts). */
  async fetch(ref: string, options: AbortOptions = {}): Promise<Buffer> {
    const { sha256 } = parseImageRef(ref)
    const found = await this.parts.reader.need(sha256, async copy => await copy.fetch(sha256, options), options.signal)
    if (found.primaryFailed !== undefined) await this.healFrom(sha256, found.value, found.from, found.primaryFailed)
    return found.value
  }

  /**
   * The verified bytes as a stream. The frame is read whole and verified before the first byte goes
   * out, so that a damaged primary copy is answered from a replica (and healed) instead of cut off.
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

  /** The primary's stat; a lost primary copy is healed first; an evicted frame's is a replica's, with its last store. */
  async stat(ref: string, options: AbortOptions = {}): Promise<ImageStat> {
    const { sha256 } = parseImageRef(ref)
    const found = await this.parts.reader.need(sha256, async copy => await copy.stat(sha256, options), options.signal)
    if (found.primaryFailed === undefined) return found.value
    if (!this.evicted(sha256)) {
      // lost from the primary: healed from a verified copy, and the primary's stat is the answer
      await this.fetch(sha256, options)
      return await this.primary.stat(sha256, options).catch(() => found.value) // (a failed heal is logged)
    }
    const mark = this.parts.ledger.lookup(PRIMARY, sha256)
    return mark?.lastStoredAt !== undefined
      ? { ...found.value, lastStoredAt: new Date(mark.lastStoredAt) }
      : found.value
  }

  /** Deletes every copy. */
  async delete(ref: string, options: AbortOptions = {}): Promise<boolean> {
    await this.parts.owner.check()
    const { sha256 } = parseImageRef(ref)
    const deleted = await Promise.all(
      [this.primary, ...this.replicas.map(r => r.storage)].map(async storage => await storage.delete(sha256, options))
    )
    await this.gone(sha256)
    return deleted.some(Boolean)
  }

  /**
   * Deletes every copy, unless a store renewed the object after `lastStoredAt`: the primary
   * decides (its copy deleted only if not renewed); once it has no copy, the replicas' go too.
   */
  async deleteIfNotRenewed(ref: string, lastStoredAt: Date, options: AbortOptions = {}): Promise<boolean> {
    await this.parts.owner.check()
    const { sha256 } = parseImageRef(ref)
    const deleted =
      this.primary.deleteIfNotRenewed === undefined
        ? await this.primary.delete(sha256, options)
        : await this.primary.deleteIfNotRenewed(sha256, lastStoredAt, options)
    if (!deleted && (await this.primary.exists(sha256, options))) return false // stored again: it stays everywhere
    const removed = await Promise.all(this.replicas.map(async r => await r.storage.delete(sha256, options)))
    await this.gone(sha256)
    return deleted || removed.some(Boolean)
  }

  /** Every object on any copy, in SHA-256 order: the primary's entry where it has one (listing.ts). */
  async *list(options: ListOptions = {}): AsyncGenerator<ImageEntry> {
    yield* listCopies(this.primary, this.replicas, this.parts.ledger, options)
  }

  /** Every copy checked; a repair heals from the replicas (verify.ts). */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    await this.parts.owner.check() // another host's frames would read as missing here
    return await verifyReplicated(this, options)
  }

  /** Copies what the outbox holds, now (a replica in backoff is tried too). */
  async drain(options: AbortOptions = {}): Promise<DrainReport> {
    return await this.parts.copier.drain(options.signal, true)
  }

  /** Compares every copy's listing, queues what a replica lacks (reconcile.ts). */
  async reconcile(options: AbortOptions = {}): Promise<ReconcileReport> {
    await this.parts.owner.check()
    return await reconcile(this, options)
  }

  /** Frees the primary of old frames whose replica copies are verified now (evict.ts). */
  async evict(options: EvictOptions): Promise<EvictReport> {
    await this.parts.owner.check()
    return await evict(this, options)
  }

  status(): ReplicationStatus {
    return status(this)
  }

  async whereis(ref: string, options: AbortOptions = {}): Promise<Whereis> {
    return await whereis(this, ref, options)
  }

  /** A link from the first copy that holds the object and gives one (a replica's presigned link for an evicted frame). */
  async url(ref: string, options: { expiresIn?: number } = {}): Promise<string> {
    for (const storage of [this.primary, ...this.replicas.map(r => r.storage)]) {
      if (storage.url !== undefined && (await storage.exists(ref))) return await storage.url(ref, options)
    }
    throw new StorageUnavailableError(
      `no copy of ${ref} gives a link (url): the primary is ${this.primary.driver}, the replicas ${this.replicas.map(r => r.storage.driver).join(', ')}`,
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

  /** Heals the primary from a replica's verified bytes, unless its copy was evicted on purpose. */
  private async healFrom(sha256: string, bytes: Buffer, from: string, primaryFailed: string): Promise<void> {
    const damaged = primaryFailed === 'ERR_INTEGRITY'
    if (damaged || !this.evicted(sha256))
      await this.parts.healer.writeBack(sha256, bytes, from, damaged ? 'damaged' : 'missing')
  }

  /** Whether the primary's copy was evicted on purpose (and not stored again since). */
  evicted(sha256: string): boolean {
    return this.parts.ledger.lookup(PRIMARY, sha256)?.how === 'evicted'
  }

  /** `ack: 2`: one replica holds a verified copy, or the store fails (the primary copy stays queued). */
  private async acknowledged(sha256: string, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.init.ackTimeoutMs ?? 30_000)
    const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    const failures: string[] = []
    for (const replica of this.replicas) {
      try {
        if ((await this.parts.copier.copy(replica, sha256, undefined, both)) === 'copied') {
          if (this.init.background !== false) this.parts.copier.kick() // the other replicas
          return
        }
      } catch (err) {
        if (signal?.aborted === true) throw signal.reason
        failures.push(`${replica.name}: ${(err as Error).message}`)
      }
    }
    throw new StorageUnavailableError(
      `stored on the primary and queued for replication, but no replica acknowledged a copy (ack: 2): ${failures.length === 0 ? 'the primary no longer holds it' : failures.join('; ')}`,
      this.pathOf(sha256)
    )
  }

  /** The ledger and the outbox forget an object deleted on purpose. */
  private async gone(sha256: string): Promise<void> {
    const at = Date.now()
    await this.parts.ledger.append(PRIMARY, [{ sha256, at, how: 'gone' }]) // (an eviction mark would count it as lost)
    await Promise.all(
      this.replicas.map(async r => {
        await this.parts.outbox.done(r.name, sha256)
        await this.parts.ledger.append(r.name, [{ sha256, at, how: 'gone' }])
      })
    )
  }
}
