/**
 * What `import` and `migrate` share: every item streamed in a fixed order, those the mapping
 * records passed over (a lookup in memory), the rest worked on at most `concurrency` at a time,
 * each recorded once its work is durable; failures of single items collected (not recorded: the
 * next run tries them again, and reports them once); and a clean stop: work under way finishes,
 * no new work starts. Before any item, a mapping of another target is refused (stores.ts). Memory:
 * the recorded items (recorded.ts: about 42 MB a million SHA-256s, 95 MB a million of an import's
 * paths); a rerun that checks the target holds its listed names too while it compares (8 bytes a
 * SHA-256).
 */
import { CompactNames } from '../../core/compact-names.js'
import { forEachConcurrent } from '../../core/concurrency.js'
import { ImageStorageError, inOneFramesPlace } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { traced } from '../../core/tracing.js'
import { openMapping, type JsonLines } from './mapping.js'
import type { RecordedItems } from './recorded.js'
import { checkMappingOf, type MappingOf } from './stores.js'

export interface JobOptions {
  /** The JSONL mapping: one record per item copied; a rerun passes over the items it records. */
  mapping: string
  concurrency?: number
  /** Set when the user asks to stop: no new work starts. */
  signal?: AbortSignal
  /** After each item (done, skipped or failed). */
  onProgress?: (summary: JobSummary) => void
}

export interface JobSummary {
  /** Items seen by this run. */
  total: number
  /** Finished by an earlier run: recorded in the mapping (import: or recorded as not images). */
  skipped: number
  /** Finished by this run (import: those recorded as not images included). */
  done: number
  /** Items that failed in this run: not recorded, so the next run tries them again. */
  failed: Array<{ item: string; code: string; message: string }>
  interrupted: boolean
  mapping: string
  /**
   * Items the mapping records whose object the target no longer holds (deleted, pruned, a disk
   * swapped): worked on again, and counted in `done` (migrate only).
   */
  missingOnTarget?: number
}

export interface Job<T> {
  name: string
  /** The mapping record's field that names an item. */
  field: string
  idOf: (item: T) => string
  /**
   * What the mapping is for (stores.ts): a mapping of another target is refused before any item.
   * `bind`: the mapping names no store yet (new, or of an earlier release), and this run names it.
   */
  mappingOf: (bind: boolean) => Promise<MappingOf>
  /** The hashes of the target's objects: a record whose object is not among them is worked on again. */
  present?: () => AsyncIterable<string>
  /**
   * `present` asked only of a mapping that names no store yet and holds records (an earlier release's): the
   * store this run names is checked once, before the mapping is bound to it (import: its target is the live
   * store, which may be ten times the import, listed on every rerun otherwise).
   */
  presentOnlyWhenBinding?: boolean
  /** Every item (whatever the mapping holds: the mapping decides what is passed over). */
  items: () => AsyncIterable<T>
  /** Whether an item was finished earlier, beyond the mapping's records (import: not an image). */
  finishedElsewhere?: (id: string) => boolean
  /** Called with each legacy `notImage` line of the mapping (mappings of earlier releases kept them there). */
  onNotImage?: (id: string) => void
  /**
   * The work: the mapping record to append, or undefined to record nothing there; `LEFT_FOR_NEXT_RUN` when the run
   * was stopped before the item's work began (neither done nor failed). A per-item error (bad input) is collected.
   */
  work: (item: T) => Promise<Record<string, unknown> | undefined | typeof LEFT_FOR_NEXT_RUN>
  /** The stores it reads and writes: a folder or a link in one frame's place there fails that item alone. */
  stores: ImageStorage[]
  /** Called once the mapping is read, before any item: whatever else the job needs open. */
  prepare?: () => Promise<void>
}

/** What `Job.work` returns for an item it did not begin because the run was stopped (import: while it waited). */
export const LEFT_FOR_NEXT_RUN = Symbol('left for the next run')

export async function runJob<T>(job: Job<T>, options: JobOptions): Promise<JobSummary> {
  const summary = ({ done, failed, skipped, interrupted }: JobSummary): Record<string, unknown> => ({
    done,
    failed: failed.length,
    skipped,
    interrupted
  })
  return await traced(
    'job',
    { driver: job.name, summary, fields: { job: job.name } },
    async () => await run(job, options)
  )
}

async function run<T>(job: Job<T>, options: JobOptions): Promise<JobSummary> {
  const { file, copied, of } = await openMapping(options.mapping, job.field, job.onNotImage)
  const summary: JobSummary = {
    total: 0,
    skipped: 0,
    done: 0,
    failed: [],
    interrupted: false,
    mapping: options.mapping
  }
  try {
    const here = await job.mappingOf(of.length === 0)
    checkMappingOf(options.mapping, of, here)
    if (of.length === 0) await file.append({ mapping: here })
    const adopting = of.length === 0 && copied.size > 0 // an earlier release's mapping, bound by this run
    if (job.present !== undefined && (adopting || job.presentOnlyWhenBinding !== true))
      summary.missingOnTarget = copied.size === 0 ? 0 : await forgetMissing(copied, job.present())
    await work(job, options, copied, file, summary)
  } finally {
    await file.close()
  }
  summary.interrupted = options.signal?.aborted === true
  return summary
}

/** The hashes of a listing's entries (what `Job.present` gives). */
export async function* hashesOf(entries: AsyncIterable<{ hash: string }>): AsyncGenerator<string> {
  for await (const entry of entries) yield entry.hash
}

/**
 * Forgets each record whose object `listed` does not hold (one listing of the target, its names held
 * while they are compared): the item is worked on again. How many.
 */
export async function forgetMissing(copied: RecordedItems, listed: AsyncIterable<string>): Promise<number> {
  const there = new CompactNames() // 8 bytes a SHA-256 name: a Set of the strings took about 100 MB a million
  for await (const hash of listed) there.add(hash)
  there.seal()
  return copied.forgetAbsent(there)
}

async function work<T>(
  job: Job<T>,
  options: JobOptions,
  copied: RecordedItems,
  file: JsonLines,
  summary: JobSummary
): Promise<void> {
  async function* todo(): AsyncGenerator<T> {
    for await (const item of job.items()) {
      if (options.signal?.aborted === true) return
      summary.total++
      const id = job.idOf(item)
      if (copied.has(id) || job.finishedElsewhere?.(id) === true) {
        summary.skipped++
        options.onProgress?.(summary)
        continue
      }
      yield item
    }
  }
  await job.prepare?.()
  await forEachConcurrent(todo(), options.concurrency ?? 4, async item => {
    try {
      const record = await job.work(item)
      if (record === LEFT_FOR_NEXT_RUN) return
      if (record !== undefined) await file.append(record)
      summary.done++
    } catch (err) {
      // a store that cannot be used stops the job; a bad item (or one frame's place) is reported, tried again next run
      if (!(err instanceof ImageStorageError) || err.code === 'ERR_CONFIG') throw err
      if (err.code === 'ERR_STORAGE_UNAVAILABLE' && !job.stores.some(store => inOneFramesPlace(err, store))) throw err
      summary.failed.push({ item: job.idOf(item), code: err.code, message: err.message })
    } finally {
      options.onProgress?.(summary)
    }
  })
}
