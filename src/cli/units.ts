/** `90d`, `12h`, `2w`, `30m`, `45s` as milliseconds; `500G`, `1.5T`, `200M`, `64K`, `1000` as bytes (binary units). */
import { UsageError } from './context.js'

const TIME: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const SIZE: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }

export function parseDuration (text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim())
  if (match === null) throw new UsageError(`${option} takes a duration such as 90d, 12h, 2w, 30m or 45s, not ${JSON.stringify(text)}`)
  return Math.round(Number(match[1]) * TIME[match[2]!]!)
}

export function parseSize (text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim())
  if (match === null) throw new UsageError(`${option} takes a size such as 500G, 1.5T, 200M or a number of bytes, not ${JSON.stringify(text)}`)
  return Math.floor(Number(match[1]) * SIZE[match[2]!.toUpperCase()]!)
}

/** 1.5 GiB, 200 MiB, 12 KiB, 900 B. */
export function formatBytes (bytes: number): string {
  for (const [unit, size] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${(bytes / size).toFixed(1)} ${unit}`
  }
  return `${bytes} B`
}
