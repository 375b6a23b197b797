/**
 * The copier: drains the outbox into the replicas. A copy is the primary's bytes (verified by its fetch) stored on
 * the replica, whose store acknowledges their SHA-256 (S3: the signed payload hash, which the server checks; IPFS:
 * the CID the node computes); only then is the ledger told and the outbox entry removed. A replica that fails is
 * retried with backoff (failing.ts); it never blocks a store, only grows the backlog. Several copies at once.
 */
import { setMaxListeners } from 'node:events'
import { forEachConcurrent } from '../../core/concurrency.js'
import { ImageStorageError, inOneFramesPlace, IntegrityError } from '../../core/errors.js'
import { failureFields, log, type Logger } from '../../core/logger.js'
import { traced } from '../../core/tracing.js'
import type { ImageStorage } from '../../core/types.js'
import { deletedMeanwhile } from './deletes.js'
import type { StateLayout } from './layout.js'
import { ReplicaBackoff } from './failing.js'
import { sourceUnreadable, throwIfBeingWritten } from './known.js'
import { HOW, type Ledger } from './ledger.js'
import type { DrainLock } from './lock.js'
import type { Outbox } from './outbox.js'
import type { ReplicaOwnership } from './owner.js'
import type { DrainReport, Replica } from './types.js'

/** How soon a background drain that failed as a whole is tried again. */
const FAILED_DRAIN_RETRY_MS = 30_000

export class Copier {
  /** Per replica: when it may be tried again, after failures; the failing state on disk (failing.ts). */
  private readonly backoff: ReplicaBackoff
  private running?: Promise<DrainReport>
  private again = false
  private timer?: NodeJS.Timeout
  private readonly stopping = new AbortController()
  /** Told of each verified copy, after its outbox entry went (the watcher's latency: watch.ts). */
  readonly copied = new Set<(replica: string, sha256: string) => void>()
  /** `<replica>/<sha256>` a drain copies now, until done: another drain here waits for it, never copies it too. */
  private readonly underWay = new Map<string, Promise<void>>()

  constructor(
    private readonly primary: ImageStorage,
    private readonly replicas: Replica[],
    private readonly outbox: Outbox,
    private readonly ledger: Ledger,
    private readonly lock: DrainLock,
    private readonly options: { concurrency: number; logger?: Logger; layout: StateLayout; owner?: ReplicaOwnership }
  ) {
    this.backoff = new ReplicaBackoff(options)
  }

  /** Copies one object to one replica, verified; `bytes` are the primary's verified bytes, if at hand. */
  async copy(replica: Replica, sha256: string, bytes?: Buffer, signal?: AbortSignal): Promise<'copied' | 'gone'> {
    let size: number | undefined // for the trace's result: the metrics count the bytes copied
    const summary = (outcome: 'copied' | 'gone'): Record<string, unknown> => ({ outcome, size })
    return await traced('replicate', { driver: replica.name, ref: sha256, summary }, async () => {
      await this.options.owner?.check({ replica: replica.name, signal }) // a Map lookup, once checked (owner.ts)
      let source = bytes
      if (source === undefined) {
        try {
          source = await this.primary.fetch(sha256, { signal })
        } catch (err) {
          await throwIfBeingWritten(this.primary, sha256, err)
          const { logger, layout } = this.options
          const known = { ledger: this.ledger, replicas: this.replicas, logger, lossesLog: layout.lossesLog }
          if (!(await sourceUnreadable(known, sha256, err))) throw err
          await this.outbox.done(replica.name, sha256)
          return 'gone'
        }
      }
      const { storage } = replica
      const options = { allowNonImage: true, signal }
      // verified already: a replica whose server checks the SHA-256 (S3) does not hash it again
      const stored =
        storage.storeKnown !== undefined
          ? await storage.storeKnown(source, sha256, options)
          : await storage.store(source, options)
      if (stored.sha256 !== sha256) throw new IntegrityError(sha256, stored.sha256, stored.path)
      size = source.length
      await this.ledger.append(replica.name, [{ sha256, at: Date.now(), how: HOW.upload }])
      // (a delete takes the entry first)
      if (!this.outbox.has(replica.name, sha256) && (await deletedMeanwhile(this.primary, this.ledger, sha256))) {
        await this.ledger.append(replica.name, [{ sha256, at: Date.now(), how: HOW.gone }], { durable: true })
        return 'gone' // (an entry left is a renewal's: copied again)
      }
      await this.outbox.done(replica.name, sha256)
      for (const listener of this.copied) listener(replica.name, sha256)
      return 'copied'
    })
  }

  /** Drains what is pending now, every replica side by side; a replica in backoff waits its turn. */
  async drain(signal?: AbortSignal, ignoreBackoff = false): Promise<DrainReport> {
    const report: DrainReport = { copied: 0, gone: 0, failed: [], pending: 0, busy: false }
    // a replica another primary owns: ERR_CONFIG, nothing copied (one down: asked again in copy)
    await this.options.owner?.check({ unreachableOk: true, signal }).catch((err: unknown) => {
      if (signal?.aborted !== true) throw err // stopped: nothing copied, as when stopped under way
    })
    if (!(await this.lock.acquire()))
      return { ...report, busy: true, heldBy: this.lock.holder(), pending: this.pendingCount() }
    try {
      await Promise.all(
        this.replicas.map(async replica => {
          if (!ignoreBackoff && this.backoff.waiting(replica.name)) return
          let unavailable: unknown
          let copiedHere = 0
          const stop = new AbortController()
          const both = AbortSignal.any([stop.signal, this.stopping.signal, ...(signal === undefined ? [] : [signal])])
          // each copy in flight listens to it (the SDK, a stream)
          setMaxListeners(4 * this.options.concurrency + 10, both)
          await forEachConcurrent(this.outbox.pending(replica.name), this.options.concurrency, async sha256 => {
            const key = `${replica.name}/${sha256}`
            // another drain here (a kick, replicate's loop) copies it (counted there), or did since the listing
            if (this.underWay.has(key)) return await this.underWay.get(key)
            if (both.aborted || !this.outbox.has(replica.name, sha256)) return
            let done!: () => void
            this.underWay.set(key, new Promise(resolve => (done = resolve)))
            try {
              if ((await this.copy(replica, sha256, undefined, both)) === 'gone') report.gone++
              else {
                report.copied++
                copiedHere++
              }
            } catch (err) {
              if (both.aborted) return
              if (!(err instanceof ImageStorageError) || unusable(err, [this.primary, replica.storage])) {
                unavailable ??= err // the replica (or the primary) cannot be used: this round stops
                stop.abort()
                return
              }
              report.failed.push({ sha256, replica: replica.name, code: err.code, message: err.message })
              log(
                this.options.logger,
                'error',
                { event: 'replication.copy-failed', replica: replica.name, sha256, ...failureFields(err) },
                `could not copy ${sha256} to ${replica.name}: ${err.message}`
              )
            } finally {
              this.underWay.delete(key)
              done()
            }
          })
          if (unavailable !== undefined) this.unreached(report, replica.name, unavailable)
          else this.backoff.recovered(replica.name, copiedHere > 0)
        })
      )
    } finally {
      await this.lock.release()
    }
    report.pending = this.pendingCount()
    return report
  }

  /** A store came: drain soon, in the background (one drain at a time; a kick during one runs another after it). */
  kick(): void {
    if (this.stopping.signal.aborted) return
    if (this.running !== undefined) {
      this.again = true
      return
    }
    this.running = this.drain()
      .catch((err: unknown) => {
        log(
          this.options.logger,
          'error',
          { event: 'replication.drain-failed', ...failureFields(err) },
          `replication: ${(err as Error).message}`
        )
        return undefined
      })
      .then(report => {
        this.running = undefined
        const retry = this.backoff.nextTryInMs()
        if (this.again) {
          this.again = false
          this.kick()
        } else if (report === undefined || (report.pending > 0 && Number.isFinite(retry))) {
          // a drain that failed as a whole (its lock's folder unwritable) is tried again too: with no store to
          // kick it, its frames would wait for a restart
          const wait = report === undefined ? FAILED_DRAIN_RETRY_MS : retry
          this.timer = setTimeout(
            () => {
              this.kick()
            },
            Math.max(0, wait)
          ).unref()
        }
        return report ?? { copied: 0, gone: 0, failed: [], pending: 0, busy: false }
      })
  }

  /** Resolves once no background drain runs (nor one asked for after it). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  /** Stops the background drain: copies under way are abandoned (their entries stay in the outbox). */
  async stop(): Promise<void> {
    this.stopping.abort()
    clearTimeout(this.timer)
    await this.running
  }

  /** Resolves once no copy of `sha256` is under way here (deletes.ts waits for them). */
  async settled(sha256: string): Promise<void> {
    await Promise.all(this.replicas.map(async r => await this.underWay.get(`${r.name}/${sha256}`)))
  }

  /** When a replica started failing, and how (for status). */
  failingSince(name: string): { since: Date; code: string } | undefined {
    return this.backoff.since(name)
  }

  private pendingCount(): number {
    return this.replicas.reduce((sum, replica) => sum + this.outbox.pending(replica.name).length, 0)
  }

  /** The replica could not be used this round: backed off, and named in the report with why. */
  private unreached(report: DrainReport, name: string, err: unknown): void {
    this.backoff.failed(name, err)
    const { code, error: message } = failureFields(err)
    ;(report.unavailable ??= []).push({ replica: name, code, message })
  }
}

/**
 * Whether a copy's failure means a store cannot be used: its replica's round stops. A folder or a link under one
 * frame's name (`ERR_STORAGE_UNAVAILABLE` naming that frame's place, on the primary or on the replica) fails that
 * frame alone: it stays pending, reported, and the other frames are still copied.
 */
function unusable(err: ImageStorageError, stores: ImageStorage[]): boolean {
  return err.code === 'ERR_STORAGE_UNAVAILABLE' && !stores.some(store => inOneFramesPlace(err, store))
}
