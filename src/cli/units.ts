/**
 * `90d`, `12h`, `2w`, `6mo`, `1y`, `30min`, `45s` as milliseconds; `500G`, `1.5T`, `200M`, `64K`,
 * `1000B` as bytes (binary units). A size needs its unit, as a duration does: `--max-bytes 500` meant as
 * 500 GiB would otherwise prune the store down to 500 bytes.
 */
import { UsageError } from './context.js'

const DAY = 86_400_000
/** A month is 30 days and a year 365 (as restic and systemd count them for ages): no calendar. */
const TIME: Record<string, number> = {
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: DAY,
  w: 7 * DAY,
  mo: 30 * DAY,
  month: 30 * DAY,
  months: 30 * DAY,
  y: 365 * DAY
}
const SIZE: Record<string, number> = { B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }

/** The units, for every help text that takes a duration. */
export const DURATION_UNITS = 'units: s, min, h, d, w, mo or month(s) (30 days), y (365 days); a bare m is refused'

export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(text.trim())
  // `m` is minutes to some tools and months to others (restic's --keep-within 6m): never guessed
  if (match?.[2] === 'm')
    throw new UsageError(`${option} ${text} is ambiguous: write ${match[1]}min for minutes or ${match[1]}mo for months`)
  const unit = match === null ? undefined : TIME[match[2]!]
  if (unit === undefined)
    throw new UsageError(
      `${option} takes a duration such as 90d, 12h, 2w, 6mo, 1y, 30min or 45s, not ${JSON.stringify(text)}`
    )
  return Math.round(Number(match![1]) * unit)
}

/** The units, for every help text that takes a size. */
export const SIZE_UNITS = 'units: B, K, M, G, T (binary: 500G = 500 GiB); a bare number is refused'

export function parseSize(text: string, option: string): number {
  // the unit is K/M/G/T (optionally followed by B or iB) or B alone; a bare number matches nothing
  const match = /^(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i?B)?|(B))$/i.exec(text.trim())
  if (match === null)
    throw new UsageError(
      `${option} takes a size with a unit such as 500G, 1.5T, 200M, 64K or 1000B (binary units), ` +
        `not ${JSON.stringify(text)}`
    )
  return Math.floor(Number(match[1]) * SIZE[(match[2] ?? match[3]!).toUpperCase()]!)
}

/** 1.5 GiB, 200 MiB, 12 KiB, 900 B. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10]
  ] as const) {
    if (bytes >= size) return `${(bytes / size).toFixed(1)} ${unit}`
  }
  return `${bytes} B`
}
