/** What `prune` is asked (its options) and what it answers (its report). */
import type { AbortOptions } from '../../core/types.js'
import type { Keep, KeepCandidate } from './keep.js'

export type PruneCandidate = KeepCandidate & { chosenBy?: 'age' | 'budget' }

export interface PruneOptions extends AbortOptions {
  /** Deletes objects last stored longer ago than this many milliseconds. */
  olderThan?: number
  /**
   * Then deletes the oldest until the objects total at most this many bytes (was `maxBytes`, a name
   * that is a store's input limit).
   */
  budgetBytes?: number
  /** Objects never deleted: refs (SHA-256 hex or the driver's hash; a `RefSet` for millions), or a predicate. */
  keep?: Keep
  /** Counts what would go; deletes nothing. */
  dryRun?: boolean
  /**
   * Objects last stored less than this long before the prune looked at them stay, whatever the
   * limits. Default 60 s.
   */
  minAgeMs?: number
  /** Their cached variants are removed with them (`createVariants(storage)`). */
  variants?: { remove: (ref: string) => Promise<number> }
  /** Each object chosen, as it is chosen (a dry run's list: `sai-images prune --dry-run --list F`). */
  onCandidate?: (candidate: PruneCandidate) => void | Promise<void>
  onProgress?: (progress: { phase: 'scan' | 'delete'; done: number; total?: number }) => void
  /** Deletions at once. Default 4. */
  concurrency?: number
  /** "Now", for the age limit. Default: the time prune starts. */
  now?: Date
}

export interface PruneReport {
  /** Objects looked at. */
  examined: number
  /** Deleted: 0 in a dry run (see `wouldDelete`). */
  deleted: number
  bytesFreed: number
  /** In a dry run: what a real run would delete and free. */
  wouldDelete?: number
  wouldFree?: number
  /** Of those chosen (deleted, or that would be): by `olderThan`, by `budgetBytes`. */
  chosenByAge: number
  chosenByBudget: number
  /** Not chosen: younger than `olderThan` (if given) and within `budgetBytes` (if given). */
  kept: number
  /** Kept by `keep`. */
  protected: number
  /** Chosen, then stored again while the prune ran: kept. */
  renewed: number
  /** Objects whose age the driver does not know: kept. */
  unknownAge: number
  /** Stored less than `minAgeMs` before the prune looked: kept. */
  recent: number
  /** The last store of the oldest and newest object chosen. */
  oldestChosen?: Date
  newestChosen?: Date
  /** Bytes of all objects before, and of those left. */
  totalBytes: number
  remainingBytes: number
  /** `budgetBytes` could not be met without deleting protected, recent or unknown-age objects. */
  overBudget: boolean
  variantsRemoved: number
  dryRun: boolean
  interrupted: boolean
  /** Listing passes over the store: 1 (a budget reads its spill file again, not the store). */
  passes: number
}
