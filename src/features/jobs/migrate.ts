/**
 * `migrate`: copies every object of one store into another, checks each on the target (fetched
 * back, verified by the target's own address, compared byte for byte), and maps the source's hash
 * to the hash and path there. Two parts, kept apart: which objects to copy (the source's listing,
 * less what the mapping records: a rerun from cron copies exactly the objects stored since), and
 * how one object is copied (`copyObject`, with its first and last store times where the target can
 * hold them: see `StoreOptions.keepTimes`).
 */
import { existsSync } from 'node:fs'
import { IntegrityError } from '../../core/errors.js'
import type { ImageEntry, ImageStorage } from '../../core/types.js'
import { openMapping } from './mapping.js'
import { RecordedItems } from './recorded.js'
import { forgetMissing, hashesOf, runJob, type JobOptions, type JobSummary } from './runner.js'
import { checkMappingOf, placeOf, type MappingOf } from './stores.js'

export interface MigrateSummary extends JobSummary {
  bytes: number
}

export async function migrate(from: ImageStorage, to: ImageStorage, options: JobOptions): Promise<MigrateSummary> {
  let bytes = 0
  const summary = await runJob<ImageEntry>(
    {
      name: 'migrate',
      // recorded by the source's own ref: an IPFS object over 1 MiB may have no SHA-256 in its listing
      field: 'source',
      idOf: entry => entry.hash,
      mappingOf: async bind => await mappingOf(from, to, bind),
      // a rerun copies again what the target lost since: one listing of it, names only
      present: () => hashesOf(to.list({ signal: options.signal })),
      stores: [from, to],
      // no signal below: a stop lets the copies under way finish (the runner starts no new one)
      items: () => from.list(),
      work: async entry => {
        const copied = await copyObject(from, to, entry.hash)
        bytes += copied.size
        return copied
      }
    },
    options
  )
  return { ...summary, bytes }
}

/**
 * One object: read (verified), stored on the target with its times, read back there and compared.
 * The mapping record.
 */
export async function copyObject(
  from: ImageStorage,
  to: ImageStorage,
  ref: string,
  signal?: AbortSignal
): Promise<{ sha256: string; source: string; hash: string; path: string; key: string; size: number }> {
  const { storedAt, lastStoredAt, sha256 } = await from.stat(ref, { signal })
  const source = await from.fetch(ref, { signal }) // verified by the source
  const options = { allowNonImage: true, keepTimes: { storedAt, lastStoredAt }, signal }
  // the drain's upload: a target that checks the SHA-256 it is sent (S3's signed payload hash) need not be read back
  const known = sha256 !== undefined && to.storeKnown !== undefined
  const stored = known ? await to.storeKnown!(source, sha256, options) : await to.store(source, options)
  if (!known || stored.isDuplicate) {
    // a copy already there was not sent: read it back
    const copy = await to.fetch(stored.hash, { signal })
    if (!copy.equals(source)) throw new IntegrityError(ref, `a different copy at ${stored.hash}`, stored.path)
  }
  if (stored.sha256 !== sha256 && known) throw new IntegrityError(ref, stored.sha256, stored.path)
  return {
    sha256: stored.sha256,
    source: ref,
    hash: stored.hash,
    path: stored.path,
    key: stored.key,
    size: stored.size
  }
}

/**
 * What a migrate would copy (objects and bytes), and what is copied already, from the listings alone.
 * With `to`, as `migrate` would: a mapping of another target is refused, and the objects it records
 * that `to` no longer holds are counted (`missingOnTarget`) among those it would copy.
 */
export async function planMigration(
  from: ImageStorage,
  mappingPath: string,
  signal?: AbortSignal,
  to?: ImageStorage
): Promise<{ wouldCopy: number; wouldCopyBytes: number; alreadyCopied: number; missingOnTarget: number }> {
  // a dry run writes nothing: no mapping made, no torn line dropped
  const { file, copied, of } = existsSync(mappingPath)
    ? await openMapping(mappingPath, 'source', undefined, true)
    : { file: undefined, copied: new RecordedItems(), of: [] }
  await file?.close()
  const plan = { wouldCopy: 0, wouldCopyBytes: 0, alreadyCopied: 0, missingOnTarget: 0 }
  if (to !== undefined) {
    checkMappingOf(mappingPath, of, await mappingOf(from, to, false))
    if (copied.size > 0) plan.missingOnTarget = await forgetMissing(copied, hashesOf(to.list({ signal })))
  }
  for await (const entry of from.list({ signal })) {
    if (copied.has(entry.hash)) plan.alreadyCopied++
    else {
      plan.wouldCopy++
      plan.wouldCopyBytes += entry.size ?? (await from.stat(entry.hash, { signal })).size
    }
  }
  return plan
}

async function mappingOf(from: ImageStorage, to: ImageStorage, bind: boolean): Promise<MappingOf> {
  // the source is never written to (it may be read-only): its id only if it has one
  return { job: 'migrate', from: await placeOf(from, false), to: await placeOf(to, bind) }
}
