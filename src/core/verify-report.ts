/**
 * One report for every fsck (the filesystem and S3 drivers, the variant cache, replication): what
 * was checked, what was wrong, what a repair did about each, and whether anything is lost.
 */
import type { Storm, StormLimit } from './storm.js'
import type { AbortOptions } from './types.js'

export interface VerifyOptions extends AbortOptions {
  /** Set right what can be set right; never deletes an object unseen. Default false: only report. */
  repair?: boolean
  /** Objects hashed at once. Default: the driver's. */
  concurrency?: number
  /**
   * Checks one of `count` partitions of the store, fixed by the object's hash: over `count` runs
   * with `index` 0 to `count - 1` (`--subset $((day % 30))/30`), every object is read once.
   */
  subset?: { index: number; count: number }
  /** Resumes after this SHA-256 hex (a checkpoint): objects up to it are skipped. */
  after?: string
  /**
   * Repairs even when one pass would quarantine, move or rewrite more than the storm limit (then it
   * repairs nothing, since so much damage means a wrong layout setting, mount or bucket, not bit rot).
   */
  force?: boolean
  /** The storm limit (storm.ts): more than `count` objects, or than `fraction` of the store. */
  stormLimit?: StormLimit
  /** A temp file younger than this may belong to a live writer and is left alone. Default 1 hour. */
  tempMinAgeMs?: number
  /**
   * Only what crashes leave beside the objects (stray temps, a prune's set-aside objects or claims): no object is
   * read. A replicated store's `verify --repair` sweeps its replicas so.
   */
  leftoversOnly?: boolean
  /** Called after each object; `lastDone` is the highest SHA-256 below which every object is checked (a checkpoint). */
  onProgress?: (progress: { checked: number; bytes: number; lastDone?: string }) => void
  /**
   * Called once with each finding as it is found, before a repair acts on it: every finding, where
   * the report lists at most `MAX_LISTED_FINDINGS` (its `counts` have them all).
   */
  onFinding?: (finding: Readonly<Finding>) => void
}

export type FindingReason =
  | 'empty'
  | 'truncated'
  | 'corrupt'
  | 'misnamed' // objects
  | 'misplaced' // intact bytes under a wrong name or folder (a case, a shard): moved into place
  | 'not-a-file' // a folder or a link stands where an object's file should be: a repair leaves it (not ours)
  | 'lost' // no good copy of the frame is left anywhere
  | 'stray-temp'
  | 'set-aside'
  | 'stale-claim' // leftovers of a crash
  | 'stray'
  | 'orphan' // variant cache files: not an entry; an entry whose source is gone
  | 'missing' // a replica lacks a copy the primary has

export type FindingAction =
  /** Whole again: put back from a crashed prune, or healed from a good copy. */
  | 'restored'
  /** Taken out of the store, kept in its quarantine: the frame is lost from the store. */
  | 'quarantined'
  /** A leftover that held no frame (a temp, a claim, a cache file): deleted. */
  | 'removed'
  /** Intact, put where its name says (a misplaced object). */
  | 'moved'
  /** Seen, not touched (a repair that found no good copy to heal from, and was told not to quarantine). */
  | 'left'

export interface Finding {
  path: string
  /** `/`-separated, relative to the store. */
  key: string
  reason: FindingReason
  /** What `repair` did; undefined without repair. */
  action?: FindingAction
  /** Where a quarantined or restored object is now. */
  movedTo?: string
  /** Which copy (replication: the replica's name). */
  copy?: string
}

/** At most this many findings are listed; `counts` has them all. */
export const MAX_LISTED_FINDINGS = 10_000

export interface VerifyReport {
  /** Objects re-hashed. */
  checked: number
  bytes: number
  /** The first findings (at most `MAX_LISTED_FINDINGS`). */
  problems: Finding[]
  /** Every finding, by reason. */
  counts: Partial<Record<FindingReason, number>>
  /** Whether a repair was asked for. */
  repaired: boolean
  /** By this run: objects made whole again, objects lost from the store (quarantined), leftovers removed. */
  restored: number
  quarantined: number
  removed: number
  /**
   * Nothing wrong is left and nothing was lost: no finding, or only findings a repair set right
   * (restored or removed). A repair that quarantined a frame is never clean.
   */
  clean: boolean
  /** False when the root does not exist (and was the library's to create): nothing was ever stored. */
  rootExists?: boolean
  /** What the quarantine holds after the run. */
  quarantine?: { objects: number; bytes: number }
  /** A repair that would have done too much (storm.ts): nothing was changed. */
  storm?: Storm
}

export function emptyReport(repair: boolean): VerifyReport {
  return {
    checked: 0,
    bytes: 0,
    problems: [],
    counts: {},
    repaired: repair,
    restored: 0,
    quarantined: 0,
    removed: 0,
    clean: true
  }
}

/** Records a finding (after its `action` is set). */
export function addFinding(report: VerifyReport, finding: Finding): void {
  report.counts[finding.reason] = (report.counts[finding.reason] ?? 0) + 1
  if (report.problems.length < MAX_LISTED_FINDINGS) report.problems.push(finding)
  if (finding.action === 'restored' || finding.action === 'moved') report.restored++
  else if (finding.action === 'quarantined') report.quarantined++
  else if (finding.action === 'removed') report.removed++
  if (finding.action !== 'restored' && finding.action !== 'removed' && finding.action !== 'moved') report.clean = false
}

/** Two reports of one run (a store and its variant cache) as one. */
export function mergeReports(a: VerifyReport, b: VerifyReport): VerifyReport {
  const counts = { ...a.counts }
  for (const [reason, n] of Object.entries(b.counts) as Array<[FindingReason, number]>)
    counts[reason] = (counts[reason] ?? 0) + n
  return {
    ...a,
    checked: a.checked + b.checked,
    bytes: a.bytes + b.bytes,
    problems: [...a.problems, ...b.problems].slice(0, MAX_LISTED_FINDINGS),
    counts,
    restored: a.restored + b.restored,
    quarantined: a.quarantined + b.quarantined,
    removed: a.removed + b.removed,
    clean: a.clean && b.clean
  }
}

/** Whether `sha256` falls in `subset` (stable: by the first four hex digits, the default layout's shard folders). */
export function inSubset(sha256: string, subset?: { index: number; count: number }): boolean {
  return subset === undefined || parseInt(sha256.slice(0, 4), 16) % subset.count === subset.index
}
