import { forEachConcurrent } from '../../core/concurrency.js'
import { stat } from 'node:fs/promises'
import { ConfigError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { createVariants } from '../../variants/index.js'
import { plural, type Command } from '../context.js'

export const stats: Command = {
  name: 'stats',
  usage: 'stats',
  summary: 'objects, bytes, and counts by type',
  async run (cli) {
    const store = cli.storage()
    const byType: Record<string, { objects: number, bytes: number }> = {}
    const byMonth: Record<string, { objects: number, bytes: number }> = {} // of the last store: to choose a retention policy
    let objects = 0
    let bytes = 0
    await forEachConcurrent(store.list(), cli.concurrency(), async entry => {
      const { size, mimeType, lastStoredAt, storedAt } = await store.stat(entry.sha256 ?? entry.hash) // by SHA-256 where known: no read of a large IPFS object
      const month = (lastStoredAt ?? storedAt)?.toISOString().slice(0, 7) ?? 'unknown'
      byMonth[month] ??= { objects: 0, bytes: 0 }
      byMonth[month].objects++
      byMonth[month].bytes += size
      objects++
      bytes += size
      byType[mimeType] ??= { objects: 0, bytes: 0 }
      byType[mimeType].objects++
      byType[mimeType].bytes += size
    })
    const variants = await cachedVariants(store)
    cli.out(`${plural(objects, 'object')}, ${bytes} bytes` + Object.entries(byType).map(([type, t]) => `\n  ${type.padEnd(26)} ${plural(t.objects, 'object')}, ${t.bytes} bytes`).join('') +
      '\nby month of the last store:' + Object.keys(byMonth).sort().map(month => `\n  ${month.padEnd(26)} ${plural(byMonth[month]!.objects, 'object')}, ${byMonth[month]!.bytes} bytes`).join('') +
      (variants === undefined ? '' : `\nvariant cache: ${plural(variants.entries, 'variant')}, ${variants.bytes} bytes` + Object.entries(variants.byPreset).map(([preset, p]) => `\n  ${preset.padEnd(26)} ${plural(p.entries, 'variant')}, ${p.bytes} bytes`).join('')),
    { objects, bytes, byType, byMonth: Object.fromEntries(Object.keys(byMonth).sort().map(m => [m, byMonth[m]])), variants })
    return 0
  }
}

/** Entries and bytes of the variant cache, by preset; undefined where the store has none. */
async function cachedVariants (storage: ImageStorage): Promise<{ entries: number, bytes: number, byPreset: Record<string, { entries: number, bytes: number }> } | undefined> {
  let variants
  try {
    variants = createVariants(storage)
  } catch (err) {
    if (err instanceof ConfigError) return undefined // a driver with no folder, and SAI_IMAGE_VARIANTS_PATH unset
    throw err
  }
  const total = { entries: 0, bytes: 0, byPreset: {} as Record<string, { entries: number, bytes: number }> }
  for await (const file of variants.cache.walk()) {
    if (file.entry === undefined) continue
    const { size } = await stat(file.path)
    total.entries++
    total.bytes += size
    total.byPreset[file.entry.preset] ??= { entries: 0, bytes: 0 }
    total.byPreset[file.entry.preset]!.entries++
    total.byPreset[file.entry.preset]!.bytes += size
  }
  return total
}
