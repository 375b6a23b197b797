/**
 * A store on S3: one `PutObject` with `If-None-Match: *`, so that of writers racing on one new
 * image, on any host, exactly one writes it. The loser (412) reads what is there: the same bytes
 * make a duplicate (renewed, then checked against a prune: claim.ts), anything else (empty,
 * damaged) is replaced, and checked the same way.
 */
import { StorageUnavailableError } from '../../core/errors.js'
import type { Digest } from '../../core/hashing.js'
import type { PruneClaims } from './claim.js'
import type { S3Objects } from './objects.js'

/** `firstStore`: a copy's first store (migrate), kept in the new object's metadata. */
export async function putOnce(
  objects: S3Objects,
  claims: PruneClaims,
  key: string,
  bytes: Buffer,
  digest: Digest,
  signal?: AbortSignal,
  firstStore?: Date
): Promise<{ isDuplicate: boolean; storedAt: Date }> {
  const { sha256, mimeType } = digest
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = firstStore ?? new Date()
    if (await objects.put(key, sha256, bytes, mimeType, now, true, signal)) return { isDuplicate: false, storedAt: now }
    // another writer won, now or long ago: what is there?
    const existing = await objects.read(key, signal)
    if (existing === undefined) continue // deleted since: try again
    if (!existing.bytes.equals(bytes)) {
      // empty or damaged: replaced, as the filesystem driver does; then checked against a prune as a renewal is (one
      // that read the damaged object's time before the replacement would delete the new one): taken, tried again
      await objects.put(key, sha256, bytes, mimeType, now, false, signal)
      if (await claims.waitForPrune(key, sha256, signal)) return { isDuplicate: false, storedAt: now }
      continue
    }
    // Renew, then re-check: a duplicate makes the object young again (retention ages by it), then
    // makes sure no prune took it
    const storedAt = existing.storedAt ?? existing.lastStoredAt
    // deleted since
    if ((await objects.renew(key, sha256, mimeType, storedAt, existing.lastStoredAt, signal)) === undefined) continue
    if (await claims.waitForPrune(key, sha256, signal)) return { isDuplicate: true, storedAt }
    // a prune took it between our renewal and its deletion: written anew
    await objects.put(key, sha256, bytes, mimeType, now, false, signal)
    return { isDuplicate: false, storedAt: now }
  }
  throw new StorageUnavailableError(`S3 store of ${sha256} kept racing with deletions; try again`, key)
}
