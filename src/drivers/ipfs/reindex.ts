/** Rebuilding the SHA-256 index from the pins: for objects stored before the index existed. */
import { createHash } from 'node:crypto'
import type { AbortOptions, ReindexReport } from '../../core/types.js'
import type { IndexedObject } from './listing.js'
import type { MfsIndex } from './mfs-index.js'
import { sha256Of } from './ref.js'

/**
 * Indexes every pin that has no entry (its SHA-256 from the CID where it holds one, else from the
 * verified bytes; a pin that is no image is left alone), and lists entries whose object is not pinned. Safe to rerun.
 * An entry made here
 * has no time marker: the object's last store is not known.
 */
export async function reindex(
  index: MfsIndex,
  entries: AsyncIterable<IndexedObject>,
  pins: Set<string>,
  fetch: (cid: string) => Promise<Buffer>,
  options: AbortOptions & { onProgress?: (report: ReindexReport) => void }
): Promise<ReindexReport> {
  const report: ReindexReport = { indexed: 0, alreadyIndexed: 0, unpinnedEntries: [] }
  for await (const { sha256, cid } of entries) {
    if (pins.delete(cid)) report.alreadyIndexed++
    else report.unpinnedEntries.push({ sha256, cid })
  }
  for (const cid of pins) {
    options.signal?.throwIfAborted()
    const sha256 = sha256Of(cid) ?? (await hashOf(fetch, cid))
    if (sha256 === undefined) continue // not an image (a folder someone pinned): left alone
    if ((await index.claim(sha256, cid, options.signal)) === 'created') {
      await index.flush(sha256, options.signal) // counted once it survives a kill -9 of the node
      report.indexed++
    } else report.alreadyIndexed++
    options.onProgress?.(report)
  }
  return report
}

/** The SHA-256 of the verified bytes; undefined for a pin that is no image (`fetch` says not found). */
async function hashOf(fetch: (cid: string) => Promise<Buffer>, cid: string): Promise<string | undefined> {
  const bytes = await fetch(cid).catch((err: { code?: string }) => {
    if (err.code !== 'ERR_NOT_FOUND') throw err
  })
  return bytes === undefined ? undefined : createHash('sha256').update(bytes).digest('hex')
}
