/**
 * Deleting an object that a concurrent store may be renewing. S3 has no conditional delete that
 * Ceph 16 honours, so a prune first claims the object (`{prefix}.pruning/{h}`, created with
 * `If-None-Match: *`), re-reads its Last-Modified, deletes, and drops the claim. A duplicate store
 * renews first (a copy onto itself moves Last-Modified) and then looks for a claim: if there is
 * one, it waits for the prune to end and writes the object again if it went. Either the prune sees
 * the renewal, or the store sees the claim. A prune killed midway leaves a claim that stores
 * ignore after a minute and that `verify --repair` removes.
 *
 * Last-Modified has whole seconds, so they are compared as whole seconds; a renewal that would
 * fall in the same second as the store before it waits for the next one (objects.ts), so that a
 * renewal always moves it.
 */
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { S3Objects } from './objects.js'
import { sameSecond } from './objects.js'

/** A claim older than this was left by a killed prune. */
export const STALE_CLAIM_MS = 60_000

export class PruneClaims {
  constructor(
    private readonly objects: S3Objects,
    private readonly prefix: string
  ) {}

  claimKey(sha256: string): string {
    return `${this.prefix}${SPECIAL_DIRS.pruning}/${sha256}`
  }

  /** True if `key` was deleted; false if it was gone, another prune had it, or a store renewed it after `seen`. */
  async deleteIfNotRenewed(key: string, sha256: string, seen: Date, signal?: AbortSignal): Promise<boolean> {
    const claim = this.claimKey(sha256)
    if (!(await this.objects.create(claim, signal))) return false // another prune has it
    try {
      const head = await this.objects.head(key, signal)
      if (head === undefined || !sameSecond(head.lastStoredAt, seen)) return false
      await this.objects.remove(key, signal)
      return true
    } finally {
      await this.objects.remove(claim)
    }
  }

  /** True once no prune holds the object and it is there; false if a prune took it. */
  async waitForPrune(key: string, sha256: string, signal?: AbortSignal): Promise<boolean> {
    const claim = this.claimKey(sha256)
    for (
      let head = await this.objects.head(claim, signal);
      head !== undefined;
      head = await this.objects.head(claim, signal)
    ) {
      if (Date.now() - head.lastStoredAt.getTime() > STALE_CLAIM_MS) break // left by a killed prune
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    return (await this.objects.head(key, signal)) !== undefined
  }
}
