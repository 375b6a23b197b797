/**
 * The reconcile: the truth is in the listings. The primary's listing and each replica's, side by
 * side (merge.ts), show what a replica lacks (queued in the outbox), what it holds of another size
 * (queued: the copy is replaced), and what only it holds (evicted on purpose, or extra: left
 * alone). The ledger is compacted as the pass goes, a shard at a time. No request per object: a
 * million objects on S3 are about a thousand list requests per side.
 */
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbortOptions } from '../../core/types.js'
import { PRIMARY, type LedgerRecord } from './ledger.js'
import { mergeListings } from './merge.js'
import type { ReplicatedStorage } from './storage.js'
import type { ReconcileReport } from './types.js'

export async function reconcile(storage: ReplicatedStorage, options: AbortOptions = {}): Promise<ReconcileReport> {
  const { primary, replicas, parts } = storage
  const report: ReconcileReport = {
    at: new Date(),
    primary: 0,
    replicas: replicas.map(r => ({ name: r.name, present: 0, missing: 0, mismatched: 0, evicted: 0, extra: 0 })),
    belowWantedCopies: 0,
    lost: 0,
    interrupted: false
  }
  const copies = [PRIMARY, ...replicas.map(r => r.name)]
  let shard: string | undefined
  let ledger: Array<Map<string, LedgerRecord>> = []
  // the shard's records, rewritten as this pass saw them (records of hashes no copy holds go)
  const seen: Array<Map<string, LedgerRecord>> = copies.map(() => new Map())
  const flush = async (): Promise<void> => {
    if (shard === undefined) return
    await Promise.all(
      copies.map(async (copy, i) => {
        // most shards are as the drain left them: rewriting 512 files for nothing was most of a pass over a small store
        if (!sameRecords(ledger[i]!, seen[i]!)) await parts.ledger.rewrite(copy, shard!, seen[i]!.values())
      })
    )
    for (const map of seen) map.clear()
  }
  const now = Date.now()
  const listings = [primary, ...replicas.map(r => r.storage)].map(s => s.list({ signal: options.signal }))
  // the ledger's eviction marks too: a frame no copy lists any more is still the store's (lost)
  for await (const { sha256, entries: all } of mergeListings([...listings, parts.ledger.evicted()])) {
    const entries = all.slice(0, copies.length)
    if (sha256.slice(0, 2) !== shard) {
      await flush()
      shard = sha256.slice(0, 2)
      ledger = copies.map(copy => parts.ledger.shard(copy, shard!))
    }
    const [ours, ...theirs] = entries
    const mark = ledger[0]!.get(sha256)
    // an eviction mark stays while the primary has no copy (stored again, the frame is not evicted any more)
    const evicted = ours === undefined && mark?.how === 'evicted'
    if (ours !== undefined) report.primary++
    else if (evicted) seen[0]!.set(sha256, mark)
    let copiesHeld = ours === undefined ? 0 : 1
    for (const [i, copy] of theirs.entries()) {
      const counts = report.replicas[i]!
      const record = ledger[i + 1]!.get(sha256)
      if (copy !== undefined) copiesHeld++
      if (ours === undefined) {
        if (copy !== undefined) {
          if (evicted) counts.evicted++
          else counts.extra++
          seen[i + 1]!.set(
            sha256,
            record !== undefined && record.how !== 'gone' ? record : { sha256, at: now, how: 'listed' }
          )
        }
      } else if (copy === undefined) {
        counts.missing++
        await parts.outbox.add(sha256, [replicas[i]!.name])
      } else if (copy.size !== undefined && ours.size !== undefined && copy.size !== ours.size) {
        counts.mismatched++
        await parts.outbox.add(sha256, [replicas[i]!.name])
      } else {
        counts.present++
        seen[i + 1]!.set(
          sha256,
          record !== undefined && record.how !== 'gone' ? record : { sha256, at: now, how: 'listed' }
        )
      }
    }
    if (copiesHeld < copies.length - (evicted ? 1 : 0)) report.belowWantedCopies++
    if (copiesHeld === 0) report.lost++
  }
  await flush()
  report.interrupted = options.signal?.aborted === true
  const path = join(parts.stateDir, 'reconcile.json')
  await writeFile(`${path}.tmp`, JSON.stringify(report))
  await rename(`${path}.tmp`, path)
  return report
}

function sameRecords(before: Map<string, LedgerRecord>, after: Map<string, LedgerRecord>): boolean {
  if (before.size !== after.size) return false
  for (const [sha256, b] of after) {
    const a = before.get(sha256)
    if (a === undefined || a.at !== b.at || a.how !== b.how || a.lastStoredAt !== b.lastStoredAt) return false
  }
  return true
}
