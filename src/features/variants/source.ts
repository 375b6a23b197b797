/**
 * A variant's source bytes. Where the store keeps each object as the file `{root}/{key}`, the file
 * is read once and sharp starts on the bytes before their SHA-256 is worked out (in slices, as a
 * driver does): sharp decodes in its own threads meanwhile (bench/RESULTS-variants.md,
 * 2026-12-05). The render is kept only if the bytes match; on a mismatch, or anything but a plain
 * read, the store's own `fetch` decides (its error, or the good bytes of a copy set right meanwhile).
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { readWhole } from '../../core/durable-files.js'
import type { HashSlices } from '../../core/hashing.js'
import type { ImageStorage } from '../../core/types.js'

export interface SourceBytes {
  bytes: Buffer
  /**
   * Checks the bytes (run once sharp has them: the hash and the render overlap); rejects with
   * `SourceMismatch` if they do not match. None: verified already.
   */
  verify?: () => Promise<void>
}

/** The stored file did not hold the bytes of its name: the store's `fetch` is asked instead. */
export class SourceMismatch extends Error {}

/** The bytes of the file under the store's root, their check running; undefined if there is none to read. */
export async function readStoredFile(
  storage: ImageStorage,
  ref: string,
  sha256: string,
  slices: HashSlices
): Promise<SourceBytes | undefined> {
  const root = storage.root
  if (root === undefined) return undefined
  let bytes: Buffer
  try {
    bytes = await readWhole(join(root, storage.keyOf(ref)))
  } catch {
    return undefined // missing, unreadable: the store's fetch says why, in its own words
  }
  const verify = async (): Promise<void> => {
    const hash = createHash('sha256')
    await slices.update(bytes, slice => hash.update(slice))
    if (hash.digest('hex') !== sha256) throw new SourceMismatch()
  }
  return { bytes, verify }
}
