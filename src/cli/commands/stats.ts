import { existsSync, statSync } from 'node:fs'
import { forEachConcurrent } from '../../core/concurrency.js'
import { ConfigError } from '../../core/errors.js'
import type { ImageEntry, ImageStorage } from '../../core/types.js'
import { createVariants } from '../../features/variants/index.js'
import { missingRootLine, plural, storeLine, type Command } from '../context.js'
import { formatBytes } from '../units.js'

type Tally = Record<string, { objects: number; bytes: number }>

export const stats: Command = {
  name: 'stats',
  usage: 'stats [--types] [--allow-empty]',
  summary: 'objects and bytes, by month of the last store; the quarantine',
  help:
    'Counts from the listing alone (no read per object): objects, bytes, and by month of the last\n' +
    "store (to choose a retention policy). --types also sniffs each object's type from its first bytes\n" +
    '(a read per object). A root that does not exist is an error unless --allow-empty.',
  options: { types: { type: 'boolean' }, 'allow-empty': { type: 'boolean' } },
  async run(cli) {
    const store = cli.storage()
    const missingRoot = store.root !== undefined && !existsSync(store.root)
    const byMonth: Tally = {}
    const byType: Tally = {}
    let objects = 0
    let bytes = 0
    const add = (tally: Tally, name: string, size: number): void => {
      const row = (tally[name] ??= { objects: 0, bytes: 0 })
      row.objects++
      row.bytes += size
    }
    const types = cli.flags.types === true
    const monthByDay = new Map<number, string>() // by day since the epoch: a million dates make a few hundred strings
    const monthOf = (date: Date): string => {
      const day = Math.floor(date.getTime() / 86_400_000)
      let month = monthByDay.get(day)
      if (month === undefined) monthByDay.set(day, (month = date.toISOString().slice(0, 7)))
      return month
    }
    const count = (size: number, lastStoredAt: Date | undefined, mimeType?: string): void => {
      objects++
      bytes += size
      add(byMonth, lastStoredAt === undefined ? 'unknown' : monthOf(lastStoredAt), size)
      if (mimeType !== undefined && types) add(byType, mimeType, size)
    }
    // a million entries: counted in the listing's loop; only those the listing says too little of are stat'ed
    async function* unknown(): AsyncGenerator<ImageEntry> {
      for await (const entry of store.list({ signal: cli.stopSignal() })) {
        if (entry.size !== undefined && entry.lastStoredAt !== undefined && !types)
          count(entry.size, entry.lastStoredAt)
        else yield entry
      }
    }
    await forEachConcurrent(unknown(), types ? cli.concurrency() : 1, async entry => {
      const stat = await store.stat(entry.sha256 ?? entry.hash) // by SHA-256 where known: no read of a large IPFS object
      count(stat.size, stat.lastStoredAt ?? stat.storedAt, stat.mimeType)
    })
    const quarantine = await quarantined(store)
    const variants = cachedVariants(store)
    const months = Object.keys(byMonth).sort()
    const rows = (tally: Tally, names: string[], noun = 'object'): string =>
      names
        .map(name => `\n  ${name.padEnd(26)} ${plural(tally[name]!.objects, noun)}, ${formatBytes(tally[name]!.bytes)}`)
        .join('')
    cli.out(
      `${plural(objects, 'object')}, ${formatBytes(bytes)} (${bytes} bytes)` +
        (cli.flags.types === true ? rows(byType, Object.keys(byType).sort()) : '') +
        '\nby month of the last store:' +
        rows(byMonth, months) +
        (quarantine === undefined || quarantine.objects === 0
          ? ''
          : `\nquarantine: ${plural(quarantine.objects, 'object')}, ${formatBytes(quarantine.bytes)}`) +
        (variants === undefined
          ? ''
          : `\nvariant cache: ${plural(variants.entries, 'variant')}, ${formatBytes(variants.bytes)}` +
            Object.entries(variants.byPreset)
              .map(([preset, p]) => `\n  ${preset.padEnd(26)} ${plural(p.entries, 'variant')}, ${formatBytes(p.bytes)}`)
              .join('')) +
        (missingRoot ? `\n${missingRootLine(cli)}` : '') +
        `\n${storeLine(store)}`,
      {
        objects,
        bytes,
        ...(cli.flags.types === true ? { byType } : {}),
        byMonth: Object.fromEntries(months.map(m => [m, byMonth[m]])),
        quarantine,
        variants,
        store: store.location,
        rootExists: !missingRoot
      }
    )
    return missingRoot && cli.flags['allow-empty'] !== true ? 1 : 0
  }
}

async function quarantined(storage: ImageStorage): Promise<{ objects: number; bytes: number } | undefined> {
  if (storage.quarantine === undefined) return undefined
  const total = { objects: 0, bytes: 0 }
  for await (const entry of storage.quarantine.list()) {
    total.objects++
    total.bytes += entry.size
  }
  return total
}

/** Entries and bytes of the variant cache, by preset; undefined where the store has none. */
function cachedVariants(
  storage: ImageStorage
): { entries: number; bytes: number; byPreset: Record<string, { entries: number; bytes: number }> } | undefined {
  let variants
  try {
    variants = createVariants(storage)
  } catch (err) {
    if (err instanceof ConfigError) return undefined // a driver with no folder, and SAI_IMAGE_VARIANTS_PATH unset
    throw err
  }
  const total = { entries: 0, bytes: 0, byPreset: {} as Record<string, { entries: number; bytes: number }> }
  for (const file of variants.cache.files()) {
    if (file.entry === undefined) continue
    const size = statSync(file.path, { throwIfNoEntry: false })?.size ?? 0
    total.entries++
    total.bytes += size
    const preset = (total.byPreset[file.entry.preset] ??= { entries: 0, bytes: 0 })
    preset.entries++
    preset.bytes += size
  }
  return total
}
