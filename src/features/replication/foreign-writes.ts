/**
 * The hook for the latency of a foreign write: a frame that another writer (not a `store` of this
 * library) put on the primary, from its write to its first verified replica copy. The watcher of
 * `replicate --watch` calls `foreignWriteCopied` once such a copy is verified; the service's
 * metrics (metrics.ts) observe it as a histogram. A plain `diagnostics_channel`: publishing costs
 * nothing while nobody listens, and the watcher needs no reference to the metrics.
 */
import { channel } from 'node:diagnostics_channel'

export const FOREIGN_WRITE_CHANNEL = 'sai-image-storage:replication.foreign-write-copied'

export interface ForeignWriteCopied {
  /** The replica that now holds a verified copy. */
  replica: string
  /** From the foreign write (its file's mtime) to the verified copy. */
  seconds: number
}

const foreignWrites = channel(FOREIGN_WRITE_CHANNEL)

/** A foreign write made at `writtenAtMs` (epoch ms) has a verified copy on `replica` now. */
export function foreignWriteCopied(replica: string, writtenAtMs: number, copiedAtMs = Date.now()): void {
  if (!foreignWrites.hasSubscribers) return
  foreignWrites.publish({
    replica,
    seconds: Math.max(0, (copiedAtMs - writtenAtMs) / 1000)
  } satisfies ForeignWriteCopied)
}
