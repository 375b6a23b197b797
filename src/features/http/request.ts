/** What the handler reads of a request's path: the ref and preset (Express params, or the path). */
import type { IncomingMessage } from 'node:http'
import { parseImageRef } from '../../core/ref.js'

export type Request = IncomingMessage & { params?: Record<string, string | undefined> }

/**
 * The ref, and the preset for a variant: Express's params, or from the path: `/…/<ref>` is the
 * image, `/…/<ref>/<preset>` its variant (when the segment before the last is a ref).
 */
export function route(req: Request, withVariants: boolean): { ref: string; preset?: string } {
  // Express names the preset itself: kept with or without variants (without, it is a 404, not the original)
  if (req.params?.ref !== undefined) return { ref: req.params.ref, preset: req.params.preset }
  const segments = (req.url ?? '').split('?')[0]!.split('/').map(decode)
  const last = segments[segments.length - 1] ?? ''
  const before = segments[segments.length - 2]
  if (withVariants && before !== undefined && !isRef(last) && isRef(before)) return { ref: before, preset: last }
  return { ref: last }
}

function isRef(segment: string): boolean {
  try {
    parseImageRef(segment)
    return true
  } catch {
    return /^[a-zA-Z0-9]{40,}$/.test(segment) // a CID of another driver
  }
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment // not valid percent-encoding: the ref check rejects it
  }
}
