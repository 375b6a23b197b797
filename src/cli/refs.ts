/**
 * Refs on the command line: whole (a SHA-256 or a CID), or as git and restic take them, a unique
 * prefix of 4 or more hex digits of a stored object's SHA-256. The prefix is looked up with
 * `list({ prefix })`: on the filesystem 4 hex digits name one shard folder, on S3 a key prefix.
 * An ambiguous prefix is `ERR_INVALID_REF` listing the candidates; one that names nothing,
 * `ERR_NOT_FOUND` (and `exists` answers false).
 */
import { InvalidRefError, NotFoundError } from '../core/errors.js'
import { quarantinedHint } from '../core/quarantine.js'
import type { ImageStorage, QuarantineEntry } from '../core/types.js'

const PREFIX = /^[0-9a-fA-F]{4,63}$/
/** Hex digits too few to be a prefix (a CID is longer): told so, not "not a CID". */
const SHORT = /^[0-9a-fA-F]{1,3}$/
/** The methods whose first argument is a ref (whereis and url: where the storage has them). */
const TAKES_A_REF = new Set(['fetch', 'fetchStream', 'stat', 'exists', 'delete', 'whereis', 'url'])
const SHOWN = 10

export class AmbiguousRefError extends InvalidRefError {
  constructor(
    readonly prefix: string,
    readonly candidates: string[]
  ) {
    super(
      prefix,
      `ambiguous: ${candidates.length > SHOWN ? `more than ${SHOWN}` : candidates.length} ` +
        'stored objects start with it ' +
        `(${candidates.slice(0, SHOWN).join(', ')}${candidates.length > SHOWN ? ', …' : ''}); give more digits`
    )
  }
}

/** The whole SHA-256 of the one stored object `prefix` (4 to 63 hex digits) starts. */
export async function resolvePrefix(storage: ImageStorage, prefix: string, signal?: AbortSignal): Promise<string> {
  const lower = prefix.toLowerCase()
  const found = new Set<string>()
  for await (const entry of storage.list({ prefix: lower, signal })) {
    found.add(entry.sha256 ?? entry.hash)
    if (found.size > SHOWN) break
  }
  if (found.size === 1) return [...found][0]!
  if (found.size === 0) throw new NotFoundError(prefix, undefined, await notStoredHint(storage, lower, signal))
  throw new AmbiguousRefError(prefix, [...found])
}

/**
 * The quarantine's entries for `ref` (a whole SHA-256, or a prefix of one), the latest of each
 * frame last; [] for any other ref, or a store without a quarantine.
 */
export async function quarantinedUnder(
  storage: ImageStorage,
  ref: string,
  signal?: AbortSignal
): Promise<QuarantineEntry[]> {
  const lower = ref.toLowerCase()
  if (storage.quarantine === undefined || !/^[0-9a-f]{4,64}$/.test(lower)) return []
  const found: QuarantineEntry[] = []
  for await (const entry of storage.quarantine.list({ signal })) if (entry.sha256.startsWith(lower)) found.push(entry)
  return found
}

/** Why a prefix names nothing: no object, or (as a whole hash would be told) a repair took it out. */
async function notStoredHint(storage: ImageStorage, prefix: string, signal?: AbortSignal): Promise<string> {
  const held = await quarantinedUnder(storage, prefix, signal)
  const frames = new Set(held.map(entry => entry.sha256))
  if (frames.size === 1) return quarantinedHint(held.at(-1)!)
  const none = "no stored object's SHA-256 starts with these digits"
  if (frames.size === 0) return none
  return `${none}, but ${frames.size} quarantined frames do (\`sai-images quarantine\` lists them)`
}

/** `storage`, its ref-taking methods taking a unique prefix too (the CLI's; the library takes whole refs). */
export function withRefPrefixes<T extends ImageStorage>(storage: T): T {
  return new Proxy(storage, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver)
      if (typeof name !== 'string' || !TAKES_A_REF.has(name) || typeof value !== 'function') return value
      return async (ref: unknown, ...rest: unknown[]) => {
        if (typeof ref === 'string' && SHORT.test(ref))
          throw new InvalidRefError(ref, 'too short a prefix: give 4 or more hex digits of the SHA-256')
        if (typeof ref !== 'string' || !PREFIX.test(ref)) return await value.call(receiver, ref, ...rest)
        let whole: string
        try {
          whole = await resolvePrefix(target, ref, (rest[0] as { signal?: AbortSignal } | undefined)?.signal)
        } catch (err) {
          if (name === 'exists' && err instanceof NotFoundError) return false
          throw err
        }
        return await value.call(receiver, whole, ...rest)
      }
    }
  })
}
