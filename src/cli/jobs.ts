/**
 * `import` and `migrate`: one-time jobs over many files. Bounded concurrency, a JSONL mapping that
 * makes them resumable, a progress bar, and a clean stop on Ctrl-C (work under way finishes, no
 * new work starts, the summary says how far it got).
 */
import { opendir, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { forEachConcurrent } from '../core/concurrency.js'
import { ImageStorageError, IntegrityError, InvalidInputError } from '../core/errors.js'
import type { ImageStorage } from '../core/types.js'
import { Mapping } from './mapping.js'
import { Progress } from './progress.js'

export interface JobOptions {
  mapping: string
  concurrency: number
  progress: boolean
  /** Set when the user asks to stop: no new work starts. */
  stop: AbortSignal
}

export interface JobSummary {
  total: number
  /** Done in an earlier run, found in the mapping. */
  skipped: number
  done: number
  failed: Array<{ item: string, code: string, message: string }>
  interrupted: boolean
  mapping: string
}

/** Runs `work` over `items` not yet in the mapping; failures of single items are collected. */
async function run<T> (label: string, items: T[], idOf: (item: T) => string, mappingField: string, options: JobOptions,
  work: (item: T) => Promise<Record<string, unknown> | undefined>): Promise<JobSummary> {
  const mapping = await Mapping.open(options.mapping)
  const todo = unfinished(mapping, items, idOf, mappingField)
  const summary: JobSummary = { total: items.length, skipped: items.length - todo.length, done: 0, failed: [], interrupted: false, mapping: options.mapping }
  const progress = new Progress(label, todo.length, options.progress)
  function * pending (): Generator<T> {
    for (const item of todo) {
      if (options.stop.aborted) return
      yield item
    }
  }
  try {
    await forEachConcurrent(pending(), options.concurrency, async item => {
      try {
        const line = await work(item)
        if (line !== undefined) await mapping.append(line)
        summary.done++
      } catch (err) {
        // a store that cannot be used stops the job; a bad item is recorded and passed over
        if (!(err instanceof ImageStorageError) || err.code === 'ERR_STORAGE_UNAVAILABLE' || err.code === 'ERR_CONFIG') throw err
        summary.failed.push({ item: idOf(item), code: err.code, message: err.message })
      } finally {
        progress.tick()
      }
    })
  } finally {
    progress.stop()
    await mapping.close()
  }
  summary.interrupted = options.stop.aborted && summary.done + summary.failed.length < todo.length
  return summary
}

/** The items whose id the mapping does not hold yet under `field`. */
function unfinished<T> (mapping: Mapping, items: T[], idOf: (item: T) => string, field: string): T[] {
  const finished = mapping.done(field)
  return items.filter(item => !finished.has(idOf(item)))
}

/**
 * Every regular file below `dir`, sorted, as paths relative to it; symbolic links are listed apart,
 * or followed (a folder reached twice, as by a loop, is read once).
 */
async function filesBelow (dir: string, followSymlinks: boolean): Promise<{ files: string[], symlinks: string[] }> {
  const files: string[] = []
  const symlinks: string[] = []
  const seen = new Set<string>()
  const walk = async (prefix: string): Promise<void> => {
    const real = await realpath(join(dir, prefix))
    if (seen.has(real)) return
    seen.add(real)
    for await (const entry of await opendir(join(dir, prefix))) {
      const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`
      let kind: { isDirectory: () => boolean, isFile: () => boolean } = entry
      if (entry.isSymbolicLink()) {
        if (!followSymlinks) {
          symlinks.push(path)
          continue
        }
        kind = await stat(join(dir, path)).catch(() => ({ isDirectory: () => false, isFile: () => false }))
      }
      if (kind.isDirectory()) await walk(path)
      else if (kind.isFile()) files.push(path)
    }
  }
  await walk('')
  return { files: files.sort(), symlinks: symlinks.sort() }
}

/** Stores every file below `dir`; the mapping says source → hash, key, size, duplicate. */
export async function importTree (storage: ImageStorage, dir: string, options: JobOptions & { followSymlinks?: boolean }): Promise<JobSummary & { symlinks: string[] }> {
  const { files, symlinks } = await filesBelow(dir, options.followSymlinks ?? false).catch((err: unknown) => { throw InvalidInputError.unreadable(dir, err, 'import the directory') })
  const summary = await run('import', files, file => file, 'source', options, async file => {
    const result = await storage.store({ path: join(dir, file) })
    return { source: file, hash: result.hash, sha256: result.sha256, key: result.key, size: result.size, duplicate: result.isDuplicate }
  })
  return { ...summary, symlinks }
}

/**
 * Copies every object of `from` into `to`, checks each on the target (fetched back, verified by
 * the target's own address, and compared by SHA-256), and maps sha256 → hash and path there.
 */
export async function migrate (from: ImageStorage, to: ImageStorage, options: JobOptions & { dryRun: boolean }): Promise<JobSummary & { bytes: number }> {
  const entries = []
  for await (const entry of from.list()) entries.push(entry)
  let bytes = 0
  if (options.dryRun) {
    const mapping = await Mapping.open(options.mapping)
    const todo = unfinished(mapping, entries, entry => entry.hash, 'source')
    await mapping.close()
    for (const entry of todo) bytes += (await from.stat(entry.hash)).size
    return { total: entries.length, skipped: entries.length - todo.length, done: 0, failed: [], interrupted: false, mapping: options.mapping, bytes }
  }
  // resumed by the source's own ref: an IPFS object over 1 MiB has no SHA-256 in its listing
  const summary = await run('migrate', entries, entry => entry.hash, 'source', options, async entry => {
    const source = await from.fetch(entry.hash)
    const stored = await to.store(source, { allowNonImage: true })
    const copy = await to.fetch(stored.hash)
    if (!copy.equals(source)) throw new IntegrityError(entry.hash, `a different copy at ${stored.hash}`, stored.path)
    bytes += source.length
    return { sha256: stored.sha256, source: entry.hash, hash: stored.hash, path: stored.path, key: stored.key, size: stored.size }
  })
  return { ...summary, bytes }
}
