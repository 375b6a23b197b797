/**
 * Retention: `prune` deletes objects by age (`olderThan`) and by a byte budget (`maxBytes`,
 * oldest first), never the protected ones (`keep`), on any driver. Age is the time of the last
 * store (`ImageStat.lastStoredAt`: a duplicate store makes an image young again).
 *
 * @example
 * ```ts
 * import { prune } from 'sai-image-storage'
 *
 * const report = await prune(storage, {
 *   olderThan: 90 * 24 * 3600 * 1000, // 90 days
 *   maxBytes: 500e9,                  // and then oldest first down to 500 GB
 *   keep: refsWithDetections,         // iterable, async iterable, or (entry) => boolean
 * })
 * console.log(report.deleted, report.bytesFreed)
 * ```
 */
import { forEachConcurrent } from '../core/concurrency.js'
import { NotFoundError } from '../core/errors.js'
import type { AbortOptions, ImageEntry, ImageStorage } from '../core/types.js'
import { keepTest, type Keep } from './keep.js'

export type { Keep } from './keep.js'

/** What `prune` needs of the variants cache (`createVariants(storage)`): removes every variant of a source. */
export interface VariantRemover {
  remove: (ref: string) => Promise<number>
}

export interface PruneOptions extends AbortOptions {
  /** Delete objects last stored more than this many milliseconds ago. */
  olderThan?: number
  /** Then delete the oldest until the objects total at most this many bytes (protected ones count too). */
  maxBytes?: number
  /** Objects never deleted: refs (SHA-256 hex or CID), sync or async, or a predicate. */
  keep?: Keep
  /** Report what would go; delete nothing. */
  dryRun?: boolean
  /** Objects examined at once. Default 4. */
  concurrency?: number
  /** Removed with each pruned object. */
  variants?: VariantRemover
  onProgress?: (report: Readonly<PruneReport>) => void
  /** Each object deleted (or, in a dry run, that would be). */
  onPrune?: (object: PrunedObject) => void
}

export interface PrunedObject {
  /** SHA-256 hex where known, else the driver's hash. */
  ref: string
  size: number
  /** Undefined where the driver does not know (IPFS: deleted only by the budget). */
  lastStoredAt?: Date
}

export interface PruneReport {
  /** Objects looked at. */
  examined: number
  /** Their bytes, before the prune. */
  bytes: number
  /** Deleted (in a dry run: that would be). */
  deleted: number
  bytesFreed: number
  /** Young enough to stay under `olderThan` (and not needed by the budget). */
  keptByAge: number
  /** Matched by `keep`. */
  protected: number
  /** Stored again while the prune ran (so left in place), or deleted by someone else meanwhile. */
  renewed: number
  /** Of unknown age (the driver does not tell it): kept unless the budget needs them. */
  unknownAge: number
  /** Variants removed with their sources. */
  variantsRemoved: number
  /** Bytes left after the prune; above `maxBytes` if protected objects alone exceed it. */
  bytesLeft: number
  dryRun: boolean
  /** The signal stopped the prune: what is reported was done, nothing else. */
  interrupted: boolean
}

/** A driver's own safe delete (fs and memory have one): deletes unless stored again after `lastStoredAt`. */
interface RenewalAware {
  deleteIfNotRenewedSince: (ref: string, lastStoredAt: Date, options?: AbortOptions) => Promise<boolean>
}

/** Objects last stored this close to the prune's start, or after it, are never pruned: they may be a store under way. */
const GRACE_MS = 1000

interface Candidate extends PrunedObject {
  /** Milliseconds, or +Infinity for unknown age (sorted last: pruned only if the budget still needs it). */
  age: number
}

/** Deletes what the options say may go; resolves with what it did. See the module example. */
export async function prune (storage: ImageStorage, options: PruneOptions = {}): Promise<PruneReport> {
  const { olderThan, maxBytes, dryRun = false, signal } = options
  if (olderThan === undefined && maxBytes === undefined) throw new TypeError('prune needs olderThan, maxBytes, or both')
  for (const [name, value] of [['olderThan', olderThan], ['maxBytes', maxBytes]] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) throw new TypeError(`prune: ${name} must be a number of at least 0`)
  }
  const startedAt = Date.now()
  const cutoff = olderThan === undefined ? -Infinity : startedAt - olderThan
  const isKept = await keepTest(options.keep, signal)
  const report: PruneReport = { examined: 0, bytes: 0, deleted: 0, bytesFreed: 0, keptByAge: 0, protected: 0, renewed: 0, unknownAge: 0, variantsRemoved: 0, bytesLeft: 0, dryRun, interrupted: false }
  const progress = (): void => options.onProgress?.(report)

  const remove = async (object: Candidate): Promise<void> => {
    if (!dryRun && !await deleteUnlessRenewed(storage, object, signal)) {
      report.renewed++
      return
    }
    report.deleted++
    report.bytesFreed += object.size
    if (!dryRun && options.variants !== undefined) {
      const removed = await options.variants.remove(object.ref) // not `+= await`: that reads the count before a concurrent removal adds to it
      report.variantsRemoved += removed
    }
    options.onPrune?.({ ref: object.ref, size: object.size, lastStoredAt: object.lastStoredAt })
    progress()
  }

  // by age alone, objects go as they are found; a budget needs them all first, oldest first
  const budget: Candidate[] = []
  try {
    await forEachConcurrent(storage.list({ signal }), options.concurrency ?? 4, async entry => {
      const object = await examine(storage, entry, signal)
      if (object === undefined) return // deleted meanwhile
      report.examined++
      report.bytes += object.size
      progress()
      if (await isKept(object.ref, entry)) {
        report.protected++
      } else if (object.age !== Infinity && object.age >= startedAt - GRACE_MS) {
        report.keptByAge++
      } else if (object.age < cutoff) {
        await remove(object)
      } else if (maxBytes !== undefined) {
        budget.push(object)
      } else if (object.age === Infinity) {
        report.unknownAge++
      } else {
        report.keptByAge++
      }
    })
    if (maxBytes !== undefined) {
      budget.sort((a, b) => a.age - b.age)
      let i = 0
      for (; i < budget.length && report.bytes - report.bytesFreed > maxBytes; i++) {
        signal?.throwIfAborted()
        await remove(budget[i])
      }
      for (const object of budget.slice(i)) object.age === Infinity ? report.unknownAge++ : report.keptByAge++
    }
  } catch (err) {
    if (signal?.aborted !== true) throw err
    report.interrupted = true
  }
  report.bytesLeft = report.bytes - report.bytesFreed
  progress()
  return report
}

async function examine (storage: ImageStorage, entry: ImageEntry, signal?: AbortSignal): Promise<Candidate | undefined> {
  const ref = entry.sha256 ?? entry.hash
  try {
    const stat = await storage.stat(ref, { signal })
    const lastStoredAt = stat.lastStoredAt ?? stat.storedAt
    return { ref, size: stat.size, lastStoredAt, age: lastStoredAt?.getTime() ?? Infinity }
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
}

/**
 * The driver's safe delete where it has one. Elsewhere, stat then delete: a store in between
 * those two calls can be lost, so a driver that can renew objects should offer its own.
 */
async function deleteUnlessRenewed (storage: ImageStorage, object: PrunedObject, signal?: AbortSignal): Promise<boolean> {
  const own = (storage as Partial<RenewalAware>).deleteIfNotRenewedSince
  if (typeof own === 'function' && object.lastStoredAt !== undefined) return await own.call(storage, object.ref, object.lastStoredAt, { signal })
  if (object.lastStoredAt !== undefined) {
    try {
      const now = await storage.stat(object.ref, { signal })
      if ((now.lastStoredAt ?? now.storedAt)?.getTime() !== object.lastStoredAt.getTime()) return false
    } catch (err) {
      if (err instanceof NotFoundError) return false
      throw err
    }
  }
  return await storage.delete(object.ref, { signal })
}
