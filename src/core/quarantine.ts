/**
 * What every driver's quarantine shares: an entry is named `<sha256>.<ms>.<reason>` (the hash its
 * name claimed, when it was taken out, why), and a fetch of a missing object says where it went.
 */
import type { QuarantineEntry } from './types.js'

const ENTRY = /^([0-9a-f]{64})\.(\d+)\.([a-z-]+)(?:\.([A-Za-z0-9_-]+))?$/

/** `<sha256>.<ms>.<reason>`, and for a misnamed file its original key (base64url: a name holds no `/`). */
export function quarantineName(sha256: string, reason: string, at = Date.now(), originalKey?: string): string {
  return `${sha256}.${at}.${reason}${originalKey === undefined ? '' : `.${Buffer.from(originalKey).toString('base64url')}`}`
}

/** The entry named `id` at `path`, or undefined if `id` is no entry's name. */
export function quarantineEntry(id: string, path: string, size: number): QuarantineEntry | undefined {
  const match = ENTRY.exec(id)
  if (match === null) return undefined
  const entry: QuarantineEntry = {
    id,
    sha256: match[1]!,
    path,
    size,
    quarantinedAt: new Date(Number(match[2])),
    reason: match[3]
  }
  if (match[4] !== undefined) entry.originalKey = Buffer.from(match[4], 'base64url').toString()
  return entry
}

/** The reasons of bytes that do not match their name: `restore` refuses them unless forced. */
export const DAMAGED_REASONS = new Set(['empty', 'truncated', 'corrupt', 'healed'])

/** The hint a `NotFoundError` gives for a quarantined object. */
export function quarantinedHint(entry: QuarantineEntry): string {
  const restore = `\`sai-images quarantine restore ${entry.id}\``
  return (
    `a repair quarantined it on ${entry.quarantinedAt.toISOString()} (${entry.reason ?? 'damaged'}): ${entry.path}; ` +
    (entry.folder === true
      ? 'a folder stood under its name, and is there with what it held: restore the frame from a replica or a backup'
      : DAMAGED_REASONS.has(entry.reason ?? '')
        ? `${restore} refuses its damaged bytes (--force puts them back anyway): restore the frame from a replica or a backup`
        : `${restore} puts it back`)
  )
}
