/**
 * Deleting an object that a concurrent store may be renewing. S3 has no conditional delete that
 * Ceph 16 honours, so a prune first claims the object (`{prefix}.pruning/{h}`, created with
 * `If-None-Match: *`), re-reads its Last-Modified, deletes, and drops the claim. A duplicate store
 * renews first (a copy onto itself moves Last-Modified) and then looks for a claim: if there is
 * one, it waits for the prune to end and writes the object again if it went. Either the prune sees
 * the renewal, or the store sees the claim. A prune killed midway leaves a claim that stores
 * ignore after a minute and that `verify --repair` removes.
 *
 * That minute is the server's: a claim's age is its Last-Modified against the Date of the answer
 * that shows it, both the gateway's clock, so a host whose clock is off cannot take a live claim for
 * a killed prune's. A prune that has held its claim for half the window by its own steady clock
 * (a stalled host, a slow gateway) gives up instead of deleting, and its delete must be answered
 * within the other half: a store never passes a claim whose prune may still delete.
 *
 * Last-Modified has whole seconds, so they are compared as whole seconds; a renewal that would
 * fall in the same second as the store before it waits for the next one (objects.ts), so that a
 * renewal always moves it.
 */
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import { StorageUnavailableError } from '../../core/errors.js'
import type { ObjectHead, S3Objects } from './objects.js'
import { sameSecond } from './objects.js'

/** A claim older than this was left by a killed prune. */
export const STALE_CLAIM_MS = 60_000

export class PruneClaims {
  constructor(
    private readonly objects: S3Objects,
    private readonly prefix: string,
    /** STALE_CLAIM_MS; shorter in tests. */
    private readonly windowMs = STALE_CLAIM_MS
  ) {}

  claimKey(sha256: string): string {
    return `${this.prefix}${SPECIAL_DIRS.pruning}/${sha256}`
  }

  /** True if `key` was deleted; false if it was gone, another prune had it, or a store renewed it after `seen`. */
  async deleteIfNotRenewed(key: string, sha256: string, seen: Date, signal?: AbortSignal): Promise<boolean> {
    const claim = this.claimKey(sha256)
    const began = performance.now()
    if (!(await this.objects.create(claim, signal))) return false // another prune has it
    let settled = true
    try {
      const head = await this.objects.head(key, signal)
      const left = this.windowMs / 2 - (performance.now() - began)
      if (head === undefined || !sameSecond(head.lastStoredAt, seen) || left <= 0) return false
      settled = false
      const deadline = AbortSignal.timeout(Math.ceil(left))
      try {
        await this.objects.remove(key, signal === undefined ? deadline : AbortSignal.any([signal, deadline]))
      } catch (err) {
        if (!deadline.aborted || signal?.aborted === true) throw err
        throw new StorageUnavailableError(`S3 prune's delete of ${sha256} was not answered within its window`, key)
      }
      settled = true
      return true
    } finally {
      // a delete that may still land keeps its claim: stores wait it out, then verify --repair removes it
      if (settled) await this.objects.remove(claim)
    }
  }

  /** True once no prune holds the object and it is there; false if a prune took it. */
  async waitForPrune(key: string, sha256: string, signal?: AbortSignal): Promise<boolean> {
    const claim = this.claimKey(sha256)
    for (let head = await this.objects.head(claim, signal); head !== undefined && !this.stale(head); ) {
      await new Promise(resolve => setTimeout(resolve, 50))
      head = await this.objects.head(claim, signal)
    }
    return (await this.objects.head(key, signal)) !== undefined
  }

  /** Whether the claim `key` was left by a killed prune (verify --repair). */
  async isStale(key: string, signal?: AbortSignal): Promise<boolean> {
    const head = await this.objects.head(key, signal)
    return head !== undefined && this.stale(head)
  }

  /** Older than the window by the server's clock (its answer's Date; the host's only if it gave none). */
  private stale(head: ObjectHead): boolean {
    return (head.answeredAt?.getTime() ?? Date.now()) - head.lastStoredAt.getTime() > this.windowMs
  }
}
