/** The reconcile's compaction of the ledger (reconcile.ts). */
import type { Ledger, LedgerRecord } from './ledger.js'

/**
 * The ledger compacted as the pass goes, a shard at a time: each shard's file is rewritten with
 * the records this pass kept (those of hashes no copy holds go), per copy.
 */
export class Compaction {
  private shard: string | undefined
  private records: Array<Map<string, LedgerRecord>> = []
  /** How many bytes of each copy's shard file `records` came from. */
  private lengths: number[] = []
  private readonly kept: Array<Map<string, LedgerRecord>>

  constructor(
    private readonly ledger: Ledger,
    private readonly copies: string[],
    /** When the pass began: a record written since is newer than the listings it judges by, and stays. */
    private readonly began: number,
    /** Whether this pass holds the compaction lock and rewrites the files (else it reads them only). */
    private readonly compact: boolean
  ) {
    this.kept = copies.map(() => new Map())
  }

  /** The pass reached `sha256`: a new shard's records are read, the last one's written. */
  async enter(sha256: string): Promise<void> {
    if (sha256.slice(0, 2) === this.shard) return
    await this.flush()
    const shard = sha256.slice(0, 2)
    this.shard = shard
    const read = this.copies.map(copy => this.ledger.shardRead(copy, shard))
    this.records = read.map(r => r.records)
    this.lengths = read.map(r => r.length)
  }

  /** Copy `i`'s record of `sha256` before this pass. */
  before(i: number, sha256: string): LedgerRecord | undefined {
    return this.records[i]!.get(sha256)
  }

  keep(i: number, record: LedgerRecord): void {
    this.kept[i]!.set(record.sha256, record)
  }

  /** Copy `i`'s record of `sha256` before this pass, if any, kept as it was. */
  keepBefore(i: number, sha256: string): void {
    const record = this.before(i, sha256)
    if (record !== undefined) this.keep(i, record)
  }

  async flush(): Promise<void> {
    const shard = this.shard
    if (shard === undefined) return
    for (const [i, records] of this.records.entries())
      for (const [sha256, record] of records)
        if (record.at >= this.began && !this.kept[i]!.has(sha256)) this.keep(i, record)
    if (!this.compact) return this.clear()
    await Promise.all(
      this.copies.map(async (copy, i) => {
        // most shards are as the drain left them: rewriting 512 files for nothing was most of a pass over a small store
        if (!sameRecords(this.records[i]!, this.kept[i]!))
          await this.ledger.rewrite(copy, shard, this.kept[i]!.values(), this.lengths[i]!)
      })
    )
    this.clear()
  }

  private clear(): void {
    for (const map of this.kept) map.clear()
  }
}

function sameRecords(before: Map<string, LedgerRecord>, after: Map<string, LedgerRecord>): boolean {
  if (before.size !== after.size) return false
  for (const [sha256, b] of after) {
    const a = before.get(sha256)
    if (a === undefined || a.at !== b.at || a.how !== b.how || a.lastStoredAt !== b.lastStoredAt) return false
  }
  return true
}
