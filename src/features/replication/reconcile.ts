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

export async function reconcile (storage: ReplicatedStorage, options: AbortOptions = {}): Promise<ReconcileReport> {
  const { primary, replicas, parts } = storage
  const report: ReconcileReport = { at: new Date(), primary: 0, replicas: replicas.map(r => ({ name: r.name, present: 0, missing: 0, mismatched: 0, evicted: 0, extra: 0 })), belowWantedCopies: 0, interrupted: false }
  const copies = [PRIMARY, ...replicas.map(r => r.name)]
  let shard: string | undefined
  let ledger: Array<Map<string, LedgerRecord>> = []
  // the shard's records, rewritten as this pass saw them (records of hashes no copy holds go)
  const seen: Array<Map<string, LedgerRecord>> = copies.map(() => new Map())
  const flush = async (): Promise<void> => {
    if (shard === undefined) return
    await Promise.all(copies.map(async (copy, i) => await parts.ledger.rewrite(copy, shard!, seen[i]!.values())))
    for (const map of seen) map.clear()
  }
  const now = Date.now()
  for await (const { sha256, entries } of mergeListings([primary, ...replicas.map(r => r.storage)].map(s => s.list({ signal: options.signal })))) {
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
          seen[i + 1]!.set(sha256, record !== undefined && record.how !== 'gone' ? record : { sha256, at: now, how: 'listed' })
        }
      } else if (copy === undefined) {
        counts.missing++
        await parts.outbox.add(sha256, [replicas[i]!.name])
      } else if (copy.size !== undefined && ours.size !== undefined && copy.size !== ours.size) {
        counts.mismatched++
        await parts.outbox.add(sha256, [replicas[i]!.name])
      } else {
        counts.present++
        seen[i + 1]!.set(sha256, record !== undefined && record.how !== 'gone' ? record : { sha256, at: now, how: 'listed' })
      }
    }
    if (copiesHeld < copies.length - (evicted ? 1 : 0)) report.belowWantedCopies++
  }
  await flush()
  report.interrupted = options.signal?.aborted === true
  const path = join(parts.stateDir, 'reconcile.json')
  await writeFile(`${path}.tmp`, JSON.stringify(report))
  await rename(`${path}.tmp`, path)
  return report
}
