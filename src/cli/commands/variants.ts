import { forEachConcurrent } from '../../core/concurrency.js'
import { ImageStorageError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { createVariants, type Variants } from '../../features/variants/index.js'
import { Progress } from '../progress.js'
import { plural, storeLine, UsageError, type Context } from '../context.js'

export async function variants(cli: Context): Promise<number> {
  const names = cli.positionals
  if (names.length === 0) throw new UsageError('name at least one preset, e.g. thumb webp')
  const storage = await cli.storage()
  const cache = createVariants(storage)
  for (const name of names)
    if (!cache.presets.has(name))
      throw new UsageError(`unknown preset ${name}: the presets are ${[...cache.presets.keys()].join(', ')}`)
  const dryRun = cli.flags['dry-run'] === true
  const stop = cli.stopSignal()
  const summary: Summary = { objects: 0, made: 0, cached: 0, failed: [], interrupted: false, dryRun }
  const progress = new Progress('variants', 0, cli.progress)
  try {
    await forEachConcurrent(
      missing(storage, cache, names, { summary, stop, tick: () => progress.tick() }),
      cli.concurrency(),
      async ({ ref, name }) => {
        try {
          if ((await cache.get(ref, name)).cached) summary.cached++
          else summary.made++
        } catch (err) {
          failed(summary, ref, name, err)
        }
      }
    )
  } finally {
    progress.stop()
  }
  summary.interrupted = stop.aborted
  cli.out(
    `variants ${summary.interrupted ? 'interrupted' : 'complete'}: ${plural(summary.objects, 'object')}, ` +
      `${summary.made} ${dryRun ? 'to make' : 'made'}, ${summary.cached} already cached, ` +
      `${summary.failed.length} failed` +
      summary.failed.map(f => `\n  ${f.code} ${f.item} ${f.preset}: ${f.message}`).join('') +
      `\n${storeLine(storage)}`,
    { command: 'variants', ...summary, store: storage.location }
  )
  if (summary.interrupted) return 130
  return summary.failed.length > 0 ? 1 : 0
}

interface Summary {
  objects: number
  made: number
  cached: number
  failed: Array<{ item: string; preset: string; code: string; message: string }>
  interrupted: boolean
  dryRun: boolean
}

/** An image that cannot be made into a variant is listed; a store or setting that fails stops the run. */
function failed(summary: Summary, ref: string, preset: string, err: unknown): void {
  if (!(err instanceof ImageStorageError) || err.code === 'ERR_STORAGE_UNAVAILABLE' || err.code === 'ERR_CONFIG')
    throw err
  summary.failed.push({ item: ref, preset, code: err.code, message: err.message })
}

/**
 * The variants to make. The lookups run in the listing's loop (a cached variant costs a lookup, no
 * task); only the variants to make are handed to the workers (none in a dry run: counted).
 */
async function* missing(
  storage: ImageStorage,
  cache: Variants,
  names: string[],
  { summary, stop, tick }: { summary: Summary; stop: AbortSignal; tick: () => void }
): AsyncGenerator<{ ref: string; name: string }> {
  // (the listing is not aborted: it ends when no more is pulled, and the summary says how far it got)
  for await (const entry of storage.list()) {
    if (stop.aborted) return
    const ref = entry.sha256 ?? entry.hash
    summary.objects++
    tick()
    for (const name of names) {
      let cached = false
      try {
        cached = entry.sha256 !== undefined ? cache.isCached(entry.sha256, name) : await cache.has(ref, name)
      } catch (err) {
        failed(summary, ref, name, err)
        continue
      }
      if (cached) summary.cached++
      else if (summary.dryRun) summary.made++
      else yield { ref, name }
    }
  }
}
