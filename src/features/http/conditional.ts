/** The request's conditions (If-None-Match, If-Modified-Since) and its Range (RFC 9110). */
import type { IncomingHttpHeaders } from 'node:http'

/** Whether an If-None-Match header names `etag` (weakly: a weak tag of ours matches too). */
export function matches(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false
  return String(header)
    .split(',')
    .some(tag => {
      const t = tag.trim()
      return t === '*' || t === etag || t === `W/${etag}`
    })
}

/** Whether the client's copy is current: If-None-Match, or (only without it) If-Modified-Since. */
export function notModified(headers: IncomingHttpHeaders, etag: string, lastModified: Date | undefined): boolean {
  if (headers['if-none-match'] !== undefined) return matches(headers['if-none-match'], etag)
  const since = headers['if-modified-since']
  if (since === undefined || lastModified === undefined) return false
  const date = Date.parse(since)
  // HTTP dates have whole seconds
  return !Number.isNaN(date) && Math.floor(lastModified.getTime() / 1000) * 1000 <= date
}

/** A satisfiable range: first and last byte, inclusive. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * The one range to send of `size` bytes: undefined to send the whole (no Range, a Range we do not
 * serve, such as several ranges, or an If-Range that no longer holds), 'unsatisfiable' for a 416.
 */
export function rangeOf(
  headers: IncomingHttpHeaders,
  size: number,
  etag: string,
  lastModified?: Date
): ByteRange | 'unsatisfiable' | undefined {
  const header = headers.range
  if (header === undefined) return undefined
  const ifRange = headers['if-range']
  if (ifRange !== undefined && ifRange !== etag && ifRange !== lastModified?.toUTCString()) return undefined
  // spaces taken out first, by a pattern that cannot backtrack: `\s*(\d*)\s*` could, for seconds, on a header of
  // spaces; a header longer than any one range is not one we serve
  const match = header.length > 100 ? null : /^bytes=(\d*)-(\d*)$/.exec(header.replace(/[ \t]+/g, ''))
  if (match === null) return undefined // several ranges, or not bytes: the whole is a valid answer
  const [, first = '', last = ''] = match
  if (first === '') {
    if (last === '') return undefined
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (last !== '' && Number(last) < start) return undefined // invalid: ignored
  if (start >= size) return 'unsatisfiable'
  return { start, end }
}
