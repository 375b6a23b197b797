/**
 * The reconcile: the truth is in the listings. The primary's listing and each replica's, side by
 * side (merge.ts), show what a replica lacks (queued in the outbox), what it holds of another size
 * (queued: the copy is replaced), and what only it holds (evicted on purpose, or extra: left
 * alone). The ledger is compacted as the pass goes, a shard at a time. No request per object: a
 * million objects on S3 are about a thousand list requests per side. The report goes to
 * `reconcile.json` (layout.ts) for `status`.
 */
import type { AbortOptions, ImageEntry } from '../../core/types.js'
import { QueuedBelow } from './below.js'
import { deletedAndLeft, known } from './known.js'
import { Compaction } from './compaction.js'
import { HOW, type LedgerRecord, PRIMARY } from './ledger.js'
import { mergeListings } from './merge.js'
import type { Parts } from './parts.js'
import type { ReconcileReport } from './types.js'

type ReconcileParts = Pick<Parts, 'primary' | 'replicas' | 'outbox' | 'ledger' | 'layout'>

export async function reconcile(parts: ReconcileParts, options: AbortOptions = {}): Promise<ReconcileReport> {
  const { primary, replicas, ledger } = parts
  const release = await ledger.lockCompaction() // another reconcile compacting: this one only counts and queues
  const below = new QueuedBelow(parts.layout)
  try {
    const pass = new ReconcilePass(parts, release !== undefined, below)
    const listings = [primary, ...replicas.map(r => r.storage)].map(s => s.list({ signal: options.signal }))
    // the frames the ledger knows of too: one no copy lists any more is still the store's (lost)
    const byLedger = known(
      ledger,
      replicas.map(r => r.name),
      { since: pass.report.at.getTime() }
    )
    for await (const { sha256, entries } of mergeListings([...listings, byLedger]))
      await pass.frame(sha256, entries.slice(0, replicas.length + 1))
    await pass.compaction.flush()
    pass.report.interrupted = options.signal?.aborted === true
    await below.close(pass.report)
    return pass.report
  } catch (err) {
    await below.abandon()
    throw err
  } finally {
    await release?.()
  }
}

/** One frame as the pass sees it: its primary entry, and whether it was evicted on purpose. */
interface Frame {
  sha256: string
  ours?: ImageEntry
  evicted: boolean
}

class ReconcilePass {
  readonly report: ReconcileReport
  readonly compaction: Compaction
  private readonly now = Date.now()

  constructor(
    private readonly parts: ReconcileParts,
    compact: boolean,
    /** The frames below their copies for copies this pass queued: struck off as they are made (below.ts). */
    private readonly below: QueuedBelow
  ) {
    const { replicas, ledger } = parts
    this.report = {
      at: new Date(),
      primary: 0,
      replicas: replicas.map(r => ({ name: r.name, present: 0, missing: 0, mismatched: 0, evicted: 0, extra: 0 })),
      belowWantedCopies: 0,
      lost: 0,
      interrupted: false
    }
    this.compaction = new Compaction(ledger, [PRIMARY, ...replicas.map(r => r.name)], this.now, compact)
  }

  /** `entries`: the primary's, then each replica's (undefined where a copy is not listed). */
  async frame(sha256: string, entries: Array<ImageEntry | undefined>): Promise<void> {
    await this.compaction.enter(sha256)
    let [ours, ...theirs] = entries
    const mark = this.compaction.before(0, sha256)
    if (ours !== undefined) this.report.primary++
    // the copier found its primary copy damaged before any copy was made: unless it was stored whole since, none
    if (ours !== undefined && mark?.how === HOW.lost && !(await this.intact(sha256))) ours = undefined
    const frame: Frame = { sha256, ours, evicted: ours === undefined && mark?.how === HOW.evicted }
    if (mark?.how === HOW.evicted && !storedAfter(ours, mark)) this.compaction.keep(0, mark)
    let copiesHeld = ours === undefined ? 0 : 1
    const lacking: string[] = []
    // deleted on purpose, the primary's copy with it, and no copy recorded since (known.ts): the mark stays while a
    // copy the delete did not reach is listed, so that it never counts as the store's (its loss LOST, a read's heal
    // bringing the frame back)
    const records = theirs.map((_, i) => this.compaction.before(i + 1, sha256))
    const deleted = ours === undefined && deletedAndLeft(mark, records) ? mark : undefined
    for (const [i, listed] of theirs.entries()) {
      // a copy a verify read back damaged is none, whatever its listing says (a flipped byte keeps the size); nor
      // is a copy of an evicted frame listed at another size than the evicted one (truncated, emptied by a tool)
      const damaged = listed !== undefined && records[i]?.how === HOW.damaged
      if (damaged) this.compaction.keepBefore(i + 1, sha256)
      const resized =
        frame.evicted && mark?.size !== undefined && listed?.size !== undefined && listed.size !== mark.size
      const copy = damaged || resized ? undefined : listed
      if (deleted !== undefined && listed !== undefined) {
        this.report.replicas[i]!.extra++
        this.compaction.keep(0, deleted)
        this.compaction.keepBefore(i + 1, sha256) // (should the frame prove stored again: a renewal's prune)
        continue
      }
      if (copy !== undefined) copiesHeld++
      else lacking.push(this.parts.replicas[i]!.name)
      await this.replicaCopy(i, frame, copy)
    }
    if (deleted !== undefined) return // every listed copy a leftover: neither below its copies nor lost
    if (copiesHeld < entries.length - (frame.evicted ? 1 : 0)) {
      this.report.belowWantedCopies++
      // the primary holds it: every copy it lacks (a damaged one too) is queued now, and struck off once made
      if (ours !== undefined) await this.below.add(sha256, lacking)
    }
    if (copiesHeld === 0) {
      this.report.lost++
      // only the ledger knows it: its records stay, so that every pass reports the loss until it is deleted on purpose
      for (const [i] of entries.entries()) this.compaction.keepBefore(i, sha256)
    }
  }

  /** Whether the primary's copy of a frame recorded lost reads whole now (rare: read, not listed). */
  private async intact(sha256: string): Promise<boolean> {
    try {
      await this.parts.primary.fetch(sha256)
      return true
    } catch (err) {
      if (['ERR_INTEGRITY', 'ERR_NOT_FOUND'].includes((err as { code?: string }).code ?? '')) return false
      throw err
    }
  }

  /** Replica `i`'s copy of a frame: counted, queued if it is lacking, its ledger record kept if it is there. */
  private async replicaCopy(i: number, { sha256, ours, evicted }: Frame, copy: ImageEntry | undefined): Promise<void> {
    const counts = this.report.replicas[i]!
    const record = this.compaction.before(i + 1, sha256)
    const listed = record !== undefined && record.how !== HOW.gone ? record : { sha256, at: this.now, how: HOW.listed }
    if (ours === undefined) {
      if (copy === undefined) return
      if (evicted) counts.evicted++
      else counts.extra++
      this.compaction.keep(i + 1, listed)
    } else if (copy === undefined) {
      counts.missing++
      await this.parts.outbox.add(sha256, [this.parts.replicas[i]!.name])
    } else if (copy.size !== undefined && ours.size !== undefined && copy.size !== ours.size) {
      counts.mismatched++
      await this.parts.outbox.add(sha256, [this.parts.replicas[i]!.name])
    } else {
      counts.present++
      this.compaction.keep(i + 1, listed)
    }
  }
}

/**
 * Whether the primary's copy was stored again after its eviction mark: only then does the mark go. A copy listed
 * as it was when marked may be one whose delete is under way (slow, or its process stopped), however old the mark:
 * dropped, its frame would count as an extra copy and its loss go unreported. A mark whose delete never came (a
 * crash) costs no more than the eviction it was: the copy, if lost, is read from a replica and not healed back.
 */
function storedAfter(ours: ImageEntry | undefined, mark: LedgerRecord): boolean {
  const stored = ours?.lastStoredAt?.getTime()
  return stored !== undefined && mark.lastStoredAt !== undefined && stored > mark.lastStoredAt
}
