/**
 * Retention: deletes objects by age and by a byte budget, oldest first, never a protected one, and
 * never one that a store renewed while the prune ran (on drivers with `deleteIfNotRenewed`).
 *
 * @example
 * ```ts
 * import { prune } from 'sai-image-storage'
 *
 * const report = await prune(storage, {
 *   olderThan: 90 * 24 * 3600 * 1000,   // last stored more than 90 days ago
 *   maxBytes: 500 * 2 ** 30,            // and then the oldest until at most 500 GiB remain
 *   keep: hashesWithDetections,         // refs, an (async) iterable, or a predicate
 *   variants                            // their variants go with them
 * })
 * ```
 */
import { forEachConcurrent } from '../core/concurrency.js'
import { ConfigError } from '../core/errors.js'
import type { AbortOptions, ImageStorage } from '../core/types.js'

export interface PruneCandidate {
  hash: string
  sha256?: string
  size: number
  /** When it was last stored (a duplicate store renews it); undefined where the driver does not know. */
  lastStoredAt?: Date
}

export interface PruneOptions extends AbortOptions {
  /** Deletes objects last stored longer ago than this many milliseconds. */
  olderThan?: number
  /** Then deletes the oldest until the objects total at most this many bytes. */
  maxBytes?: number
  /** Objects never deleted: refs (SHA-256 hex or the driver's hash), or a predicate. */
  keep?: Iterable<string> | AsyncIterable<string> | ((object: PruneCandidate) => boolean | Promise<boolean>)
  /** Counts and lists what would go; deletes nothing. */
  dryRun?: boolean
  /** Their cached variants are removed with them (`createVariants(storage)`). */
  variants?: { remove: (ref: string) => Promise<number> }
  onProgress?: (progress: { phase: 'scan' | 'delete', done: number, total?: number }) => void
  /** Deletions at once. Default 4. */
  concurrency?: number
  /** "Now", for the age limit. Default: the time prune starts. */
  now?: Date
}

export interface PruneReport {
  /** Objects looked at. */
  examined: number
  /** Deleted (or, in a dry run, that would be). */
  deleted: number
  bytesFreed: number
  /** Young enough to stay. */
  keptByAge: number
  /** Kept by `keep`. */
  protected: number
  /** Chosen, then stored again while the prune ran: kept. */
  renewed: number
  /** Objects whose age the driver does not know: kept. */
  unknownAge: number
  /** Bytes of all objects before, and of those left. */
  totalBytes: number
  remainingBytes: number
  /** `maxBytes` could not be met without deleting protected objects. */
  overBudget: boolean
  variantsRemoved: number
  dryRun: boolean
  interrupted: boolean
  /** In a dry run: what would go, oldest first. */
  candidates?: PruneCandidate[]
}

export async function prune (storage: ImageStorage, options: PruneOptions = {}): Promise<PruneReport> {
  const { olderThan, maxBytes, dryRun = false, signal } = options
  if (olderThan === undefined && maxBytes === undefined) throw new ConfigError('prune', 'say what to prune: olderThan, maxBytes, or both')
  if (olderThan !== undefined && !(olderThan >= 0)) throw new ConfigError('olderThan', 'expected milliseconds, 0 or more')
  if (maxBytes !== undefined && !(maxBytes >= 0)) throw new ConfigError('maxBytes', 'expected bytes, 0 or more')
  const now = (options.now ?? new Date()).getTime()
  const report: PruneReport = { examined: 0, deleted: 0, bytesFreed: 0, keptByAge: 0, protected: 0, renewed: 0, unknownAge: 0, totalBytes: 0, remainingBytes: 0, overBudget: false, variantsRemoved: 0, dryRun, interrupted: false }
  const isKept = await keeper(options.keep)

  // the scan: every object's size and age
  const objects: PruneCandidate[] = []
  for await (const entry of storage.list({ signal })) {
    const stat = await storage.stat(entry.sha256 ?? entry.hash, { signal }).catch((err: { code?: string }) => {
      if (err.code === 'ERR_NOT_FOUND') return undefined // deleted while we looked
      throw err
    })
    if (stat === undefined) continue
    const object: PruneCandidate = { hash: entry.hash, sha256: stat.sha256 ?? entry.sha256, size: stat.size, lastStoredAt: stat.lastStoredAt ?? stat.storedAt }
    report.examined++
    report.totalBytes += object.size
    options.onProgress?.({ phase: 'scan', done: report.examined })
    if (await isKept(object)) report.protected++
    else if (object.lastStoredAt === undefined) report.unknownAge++
    else objects.push(object)
  }

  // the choice: too old, then the oldest while over the budget
  objects.sort((a, b) => a.lastStoredAt!.getTime() - b.lastStoredAt!.getTime())
  const cutoff = olderThan === undefined ? -Infinity : now - olderThan
  let remaining = report.totalBytes
  const chosen: PruneCandidate[] = []
  for (const object of objects) {
    if (object.lastStoredAt!.getTime() < cutoff || (maxBytes !== undefined && remaining > maxBytes)) {
      chosen.push(object)
      remaining -= object.size
    } else {
      report.keptByAge++
    }
  }
  report.overBudget = maxBytes !== undefined && remaining > maxBytes

  if (dryRun) {
    report.candidates = chosen
    report.deleted = chosen.length
    report.bytesFreed = report.totalBytes - remaining
    report.remainingBytes = remaining
    return report
  }

  async function * pending (): AsyncGenerator<PruneCandidate> {
    for (const object of chosen) {
      if (signal?.aborted === true) return
      yield object
    }
  }
  await forEachConcurrent(pending(), options.concurrency ?? 4, async object => {
    const ref = object.sha256 ?? object.hash
    const deleted = storage.deleteIfNotRenewed !== undefined
      ? await storage.deleteIfNotRenewed(ref, object.lastStoredAt!, { signal })
      : await storage.delete(ref, { signal })
    if (deleted) {
      report.deleted++
      report.bytesFreed += object.size
      if (options.variants !== undefined && object.sha256 !== undefined) {
        const removed = await options.variants.remove(object.sha256)
        report.variantsRemoved += removed // read after the await: deletions run side by side
      }
    } else {
      report.renewed++
    }
    options.onProgress?.({ phase: 'delete', done: report.deleted + report.renewed, total: chosen.length })
  })
  report.interrupted = signal?.aborted === true && report.deleted + report.renewed < chosen.length
  report.remainingBytes = report.totalBytes - report.bytesFreed
  report.overBudget = maxBytes !== undefined && report.remainingBytes > maxBytes
  return report
}

/** `keep` as one test: a set of refs (SHA-256 hex in lower case, or the driver's hash), or the predicate. */
async function keeper (keep: PruneOptions['keep']): Promise<(object: PruneCandidate) => Promise<boolean>> {
  if (keep === undefined) return async () => false
  if (typeof keep === 'function') return async object => await keep(object)
  const refs = new Set<string>()
  for await (const ref of keep as AsyncIterable<string>) {
    const trimmed = ref.trim()
    if (trimmed !== '') refs.add(/^[0-9a-fA-F]{64}$/.test(trimmed) ? trimmed.toLowerCase() : trimmed)
  }
  return async object => refs.has(object.hash) || (object.sha256 !== undefined && refs.has(object.sha256))
}
