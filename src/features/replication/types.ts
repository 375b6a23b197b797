/** What replication is given and what it tells. */
import type { Logger } from '../../core/logger.js'
import type { ImageStorage } from '../../core/types.js'
import type { VerifyReport } from '../../core/verify-report.js'

export interface Replica {
  /** A short name, for the state folder, the ledger and messages: `s3`, `ipfs`, `offsite`. */
  name: string
  storage: ImageStorage
}

export interface ReplicatedStorageInit {
  /** The store that is the truth: written first, read first (typically the filesystem driver). */
  primary: ImageStorage
  /** The copies kept in sync with it. */
  replicas: Replica[]
  /**
   * Where the outbox, the ledger and the counters live. Default: `{primary root}/.replication`
   * (a primary without a local root needs one).
   */
  stateDir?: string
  /**
   * Copies a `store` waits for: 1 (default) resolves once the primary copy is durable and its
   * replication is durably recorded; 2 waits for one replica too (and fails if none takes it
   * within `ackTimeoutMs`, the primary copy staying queued).
   */
  ack?: 1 | 2
  /** Default 30 s. */
  ackTimeoutMs?: number
  /** Drain the outbox in this process, in the background, as stores come. Default true. */
  background?: boolean
  /** Copies at once, per replica. Default 4. */
  concurrency?: number
  /**
   * A repair (verify) that finds more damaged or missing primary copies than this heals nothing
   * unless forced. Default 100.
   */
  stormLimit?: number
  /** Told of background work: copies, retries, heals, and each failure once. */
  logger?: Logger
}

export interface ReplicaStatus {
  name: string
  /** Objects waiting in the outbox for this replica. */
  pending: number
  oldestPendingAt?: Date
  /** The last reconcile's findings for this replica. */
  lastReconcile?: ReconcileReplicaReport
  /** When the outbox could not reach it last, and why (its code); cleared by a copy that works. */
  failing?: { since: Date; code: string }
}

export interface ReplicationStatus {
  replicas: ReplicaStatus[]
  /** When the last reconcile ended, and the last verify. */
  lastReconcileAt?: Date
  lastVerifyAt?: Date
  /**
   * Of the latest whole scan (`countedBy`: a reconcile, or a verify of every frame): frames with
   * fewer copies than wanted, and frames with no copy left (lost). Below: as the copies since left
   * them (a reconcile's frames struck off once the copies it queued are verified: `copiedSince`).
   */
  belowWantedCopies?: number
  /** Of the frames a reconcile found below, those its queued copies made whole since (only when some). */
  copiedSince?: number
  lost?: number
  /**
   * Frames the copier found lost (no copy made before the primary's was gone or damaged) since the latest scan
   * began, and still lost: the next scan counts them in `lost`. Only when some.
   */
  lostSince?: number
  countedBy?: 'reconcile' | 'verify'
  heals: { healed: number; lastAt?: Date }
}

export interface ReconcileReplicaReport {
  name: string
  /** On the primary and on the replica, the same size. */
  present: number
  /** On the primary, not on the replica (queued now). */
  missing: number
  /** On both, of another size (queued: the copy is replaced). */
  mismatched: number
  /** On the replica only: evicted from the primary (kept on purpose). */
  evicted: number
  /**
   * On the replica only, left alone: of unknown origin, or left by a delete that did not reach the replica (the
   * primary's `gone` mark kept meanwhile; a prune's rerun deletes it once the copy's time is past its cut-off).
   */
  extra: number
}

export interface ReconcileReport {
  at: Date
  /** Objects on the primary. */
  primary: number
  replicas: ReconcileReplicaReport[]
  /**
   * Objects with fewer copies than the primary plus every replica (an evicted frame: every replica); in
   * reconcile.json, less those made whole since by the copies the pass queued (`copiedSince`).
   */
  belowWantedCopies: number
  copiedSince?: number
  /** Evicted frames no replica lists any more: no copy is left. */
  lost: number
  /** Listing requests would not tell more: no request was made per object. */
  interrupted: boolean
}

export interface CopyLocation {
  /** `primary`, or the replica's name. */
  name: string
  present: boolean
  size?: number
  /** Its last store (the primary), as the copy knows it. */
  lastStoredAt?: Date
  /** When this copy was last verified, and how: acknowledged by checksum on upload, or re-read and hashed. */
  verifiedAt?: Date
  how?: 'upload' | 'rehash' | 'listed'
  /** The primary's copy was evicted on purpose (the frame lives on in the replicas). */
  evictedAt?: Date
  /** A verify read this copy back and found it damaged (it is no good copy until copied or read whole again). */
  damagedAt?: Date
}

export interface Whereis {
  sha256: string
  copies: CopyLocation[]
}

/** What a drain of the outbox did (`ReplicatedStorage.drain`). */
export interface DrainReport {
  copied: number
  /** Gone from the primary meanwhile (pruned): nothing to copy. */
  gone: number
  failed: Array<{ sha256: string; replica: string; code: string; message: string }>
  /** Replicas not reached (their copies stopped, not failed), and why. */
  unavailable?: Array<{ replica: string; code: string; message: string }>
  /** Left in the outbox (a replica down, or stopped). */
  pending: number
  /** Another process held the drain (nothing was copied here), and which (its pid), if known. */
  busy: boolean
  heldBy?: number
}

/** What `status` reads of the last whole verify (verify.json): when it ended, and when it began. */
export interface VerifyRecord {
  at: string
  /** A frame the copier found lost after this may be missing from the counts (status.ts: `lostSince`). */
  began?: string
  belowWantedCopies: number
  lost: number
}

export type ReplicatedVerifyReport = VerifyReport & {
  /**
   * Frames with fewer good copies than wanted (the primary and every replica; an evicted frame:
   * every replica), and with none; after a repair, those it left so (`madeWhole`: those it restored, if any).
   */
  copies: { belowWanted: number; lost: number; madeWhole?: number }
}
