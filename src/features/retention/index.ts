/**
 * Retention: `prune` deletes objects by age and by a byte budget, never one that `keep` protects
 * (refs, a `RefSet` that holds millions of them in little memory, or a predicate). See prune.ts
 * and docs/retention.md.
 *
 * @example
 * ```ts
 * import { prune, RefSet } from 'sai-image-storage/retention'
 *
 * const keep = new RefSet()
 * for (const hash of hashesWithDetections) keep.add(hash)
 * const report = await prune(storage, { olderThan: 90 * 86_400_000, keep })
 * ```
 */
export { prune } from './prune.js'
export { RefSet } from './keep.js'
export type { PruneCandidate, PruneOptions, PruneReport } from './types.js'
