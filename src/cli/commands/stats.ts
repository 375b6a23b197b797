import { existsSync, statSync } from 'node:fs'
import { forEachConcurrent } from '../../core/concurrency.js'
import { ConfigError } from '../../core/errors.js'
import type { ImageEntry, ImageStorage } from '../../core/types.js'
import { createVariants } from '../../features/variants/index.js'
import { type Context, missingRootLine, plural, storeLine } from '../context.js'
import { allowEmptyHint, notFramesAt, notFramesLine } from '../not-a-store.js'
import { formatBytes } from '../units.js'

type Tally = Record<string, { objects: number; bytes: number }>

export async function stats(cli: Context): Promise<number> {
  const store = await cli.storage()
  const missingRoot = store.root !== undefined && !existsSync(store.root)
  const types = cli.flags.types === true
  const counts = await countObjects(store, types, cli)
  const quarantine = await quarantined(store)
  const variants = cachedVariants(store)
  const notFrames = counts.objects === 0 ? notFramesAt(store.root) : undefined
  const allowEmpty = cli.flags['allow-empty'] === true
  const months = Object.keys(counts.byMonth).sort()
  cli.out(
    `${plural(counts.objects, 'object')}, ${formatBytes(counts.bytes)} (${counts.bytes} bytes)` +
      (types ? rows(counts.byType, Object.keys(counts.byType).sort()) : '') +
      '\nby month of the last store:' +
      rows(counts.byMonth, months) +
      (quarantine === undefined || quarantine.objects === 0
        ? ''
        : `\nquarantine: ${plural(quarantine.objects, 'object')}, ${formatBytes(quarantine.bytes)}`) +
      (variants === undefined ? '' : variantsText(variants)) +
      (missingRoot ? `\n${missingRootLine(cli)}` : '') +
      (notFrames === undefined ? '' : `\n${notFramesLine(notFrames, allowEmptyHint(allowEmpty))}`) +
      `\n${storeLine(store)}`,
    {
      objects: counts.objects,
      bytes: counts.bytes,
      ...(types ? { byType: counts.byType } : {}),
      byMonth: Object.fromEntries(months.map(m => [m, counts.byMonth[m]])),
      quarantine,
      variants,
      store: store.location,
      rootExists: !missingRoot,
      ...(notFrames === undefined ? {} : { notFrames })
    }
  )
  return (missingRoot || notFrames !== undefined) && !allowEmpty ? 1 : 0
}

/** Objects and bytes in all, by month of the last store and (with --types) by type. */
class Counts {
  objects = 0
  bytes = 0
  readonly byMonth: Tally = {}
  readonly byType: Tally = {}
  // by day since the epoch: a million dates make a few hundred strings
  private readonly monthByDay = new Map<number, string>()

  add(size: number, lastStoredAt: Date | undefined, mimeType?: string): void {
    this.objects++
    this.bytes += size
    addTo(this.byMonth, lastStoredAt === undefined ? 'unknown' : this.monthOf(lastStoredAt), size)
    if (mimeType !== undefined) addTo(this.byType, mimeType, size)
  }

  private monthOf(date: Date): string {
    const day = Math.floor(date.getTime() / 86_400_000)
    let month = this.monthByDay.get(day)
    if (month === undefined) this.monthByDay.set(day, (month = date.toISOString().slice(0, 7)))
    return month
  }
}

function addTo(tally: Tally, name: string, size: number): void {
  const row = (tally[name] ??= { objects: 0, bytes: 0 })
  row.objects++
  row.bytes += size
}

/** Counts from the listing; only the entries it says too little of (or all, for --types) are stat'ed. */
async function countObjects(store: ImageStorage, types: boolean, cli: Context): Promise<Counts> {
  const counts = new Counts()
  const statOf = async (entry: ImageEntry): Promise<void> => {
    // by SHA-256 where known: no read of a large IPFS object
    const stat = await store.stat(entry.sha256 ?? entry.hash)
    counts.add(stat.size, stat.lastStoredAt ?? stat.storedAt, types ? stat.mimeType : undefined)
  }
  const listing = store.list({ signal: cli.stopSignal() })
  if (types) {
    await forEachConcurrent(listing, cli.concurrency(), statOf)
    return counts
  }
  // a million entries: counted in the listing's own loop, with no generator of ours around its steps
  for await (const entry of listing) {
    if (entry.size !== undefined && entry.lastStoredAt !== undefined) counts.add(entry.size, entry.lastStoredAt)
    else await statOf(entry)
  }
  return counts
}

function rows(tally: Tally, names: string[], noun = 'object'): string {
  return names
    .map(name => `\n  ${name.padEnd(26)} ${plural(tally[name]!.objects, noun)}, ${formatBytes(tally[name]!.bytes)}`)
    .join('')
}

function variantsText(variants: NonNullable<ReturnType<typeof cachedVariants>>): string {
  return (
    `\nvariant cache: ${plural(variants.entries, 'variant')}, ${formatBytes(variants.bytes)}` +
    Object.entries(variants.byPreset)
      .map(([preset, p]) => `\n  ${preset.padEnd(26)} ${plural(p.entries, 'variant')}, ${formatBytes(p.bytes)}`)
      .join('')
  )
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
