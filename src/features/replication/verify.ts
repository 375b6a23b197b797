/**
 * The fsck of every copy, of every frame the store is responsible for: on the primary, and those the ledger knows
 * (known.ts), the listings and the ledger merged in step, so that a frame every copy lost is still counted. The
 * primary re-hashes its objects (or a subset); the listings side by side find what a copy lacks (no request per
 * object); the replicas' copies of the subset are read back and hashed, an evicted frame's too (`--subset
 * $((day % 30))/30` reads each copy once in 30 days; a damaged copy stays so in the ledger until made whole). A
 * frame with fewer good copies than wanted is named; with none, `lost`. A repair heals the primary and copies
 * again what a replica lacks (verify-repair.ts), unless the storm guard says the pass would do too much. The
 * counts go to `verify.json` for `status`. Findings are spilled to files.
 */
import { checkSubset } from '../../core/checks.js'
import { StorageUnavailableError } from '../../core/errors.js'
import { failureFields } from '../../core/logger.js'
import type { ImageEntry } from '../../core/types.js'
import {
  addFinding,
  emptyReport,
  type Finding,
  type FindingReason,
  inSubset,
  mergeReports,
  type VerifyOptions,
  type VerifyReport
} from '../../core/verify-report.js'
import { type KnownEntry, known, RecordsInOrder } from './known.js'
import { HOW } from './ledger.js'
import { mergeListings } from './merge.js'
import type { Parts } from './parts.js'
import { writeRecord } from './records.js'
import type { ReplicatedVerifyReport, VerifyRecord } from './types.js'
import { Spill } from './spill.js'
import {
  copyAgain,
  DAMAGE,
  healMissing,
  healPrimary,
  type Made,
  madeWhole,
  stormCheck,
  sweepReplicas
} from './verify-repair.js'

type VerifyParts = Pick<Parts, 'primary' | 'replicas' | 'layout' | 'ledger' | 'outbox' | 'copier' | 'healer' | 'reader'>

interface Tally {
  objects: number
  belowWanted: number
  lost: number
}

export async function verifyReplicated(
  parts: VerifyParts,
  options: VerifyOptions = {}
): Promise<ReplicatedVerifyReport> {
  checkSubset(options.subset)
  const { primary, replicas, layout } = parts
  const [repair, began] = [options.repair === true, new Date()]
  // every damaged or misplaced primary copy (past the listed findings): a hash per frame in memory
  const damagedOwn = new Set<string | undefined>()
  const unhealedOwn = new Set<string | undefined>()
  const onFinding = (finding: Readonly<Finding>): void => {
    const sha256 = /[0-9a-f]{64}/i.exec(finding.key)?.[0]?.toLowerCase()
    if (DAMAGE.has(finding.reason)) damagedOwn.add(sha256)
    // a misplaced copy is moved by the repair; a folder under its name is the operator's: never healed over
    if (finding.reason === 'misplaced' || finding.reason === 'not-a-file') unhealedOwn.add(sha256)
    options.onFinding?.(finding)
  }
  const own =
    primary.verify === undefined ? emptyReport(false) : await primary.verify({ ...options, repair: false, onFinding })
  // 0: missing on the primary; i + 1: what replica i lacks or holds damaged; then lost frames, frames below.
  // Without repair and no frame on the primary, no state folder made (a typo, an unmounted array)
  const spill = await Spill.open(layout, replicas.length + 3, repair || own.checked > 0)
  const LOST = replicas.length + 1
  const copies = emptyReport(repair)
  try {
    const tally = await scan(parts, { spill, damagedOwn, unhealedOwn, copies }, options)
    await spill.close()
    const found = { own, damaged: damagedOwn.size, counts: spill.counts, objects: tally.objects }
    const storm = repair ? stormCheck(found, replicas, options) : undefined
    const act = repair && (storm === undefined || options.force === true)
    const made: Made = new Map()
    const report = await healPrimary(parts, own, act, options, made)
    await healMissing(parts, spill.read(0), act, copies, made, options.onFinding)
    await copyAgain(parts, spill, act, copies, options, made)
    await sweepReplicas(parts, copies, options, act)
    for await (const { sha256 } of spill.read(LOST)) {
      const finding: Finding = { path: primary.pathOf(sha256), key: primary.keyOf(sha256), reason: 'lost' }
      options.onFinding?.({ ...finding })
      addFinding(copies, repair ? { ...finding, action: 'left' } : finding)
    }
    const whole = await madeWhole(spill, LOST + 1, made)
    // what is below after the repair: the counts beside "clean now" are what the repair left
    tally.belowWanted -= whole
    const merged = {
      ...mergeReports(report, copies),
      repaired: repair,
      copies: { belowWanted: tally.belowWanted, lost: tally.lost, ...(whole > 0 ? { madeWhole: whole } : {}) }
    }
    if (!spill.aside) await record(parts, tally, options, began)
    if (storm === undefined) return merged
    return act ? { ...merged, storm: { ...storm, refused: false } } : { ...merged, clean: false, storm }
  } finally {
    await spill.close()
    await spill.remove()
  }
}

/** What the scan writes to and reads. */
interface Scan {
  spill: Spill
  /** The frames whose primary copy its own verify found damaged. */
  damagedOwn: Set<string | undefined>
  /** Healed by none though not missing: an intact copy under a wrong name, a folder under its name. */
  unhealedOwn: Set<string | undefined>
  /** The replica copies read back. */
  copies: VerifyReport
}

/** Every frame's copies judged, the listings (and the eviction marks) side by side; the findings spilled. */
async function scan(parts: VerifyParts, scanned: Scan, options: VerifyOptions): Promise<Tally> {
  const { spill, damagedOwn, unhealedOwn, copies } = scanned
  const { primary, replicas, ledger } = parts
  const LOST = replicas.length + 1
  const tally: Tally = { objects: 0, belowWanted: 0, lost: 0 }
  const began = Date.now()
  const listings: Array<AsyncIterable<ImageEntry>> = [primary, ...replicas.map(r => r.storage)].map(s =>
    s.list({ after: options.after, signal: options.signal })
  )
  const names = replicas.map(r => r.name)
  const byLedger = known(ledger, names, { after: options.after, since: began })
  const records = new RecordsInOrder(ledger)
  for await (const { sha256, entries } of mergeListings([...listings, byLedger])) {
    const [ours, ...theirs] = entries.slice(0, replicas.length + 1)
    const mark = entries[replicas.length + 1] as KnownEntry | undefined
    if (ours === undefined && records.leftByDelete(names, sha256)) continue // deleted on purpose
    const evicted = ours === undefined && mark?.evicted === true
    const checked = inSubset(sha256, options.subset)
    tally.objects++
    if (ours === undefined && !evicted && checked && !unhealedOwn.has(sha256)) await spill.add(0, sha256, 'missing')
    let good = ours !== undefined && !damagedOwn.has(sha256) ? 1 : 0
    for (const [i, copy] of theirs.entries()) {
      const seen = {
        copy,
        ours: evicted ? mark : ours, // an evicted copy's size: a copy of another is damaged
        primaryDamaged: damagedOwn.has(sha256),
        checked,
        damaged: records.damaged(names[i]!, sha256)
      }
      const reason = await judge(parts, i, sha256, seen, options, copies)
      if (reason === undefined) good++
      else await spill.add(i + 1, sha256, reason)
    }
    const wanted = replicas.length + (evicted ? 0 : 1)
    if (good < wanted) {
      tally.belowWanted++
      if (options.repair === true) await spill.add(LOST + 1, sha256, wanted - good)
    }
    if (good === 0) {
      tally.lost++
      await spill.add(LOST, sha256, 'lost')
    }
  }
  return tally
}

/** Whether replica `i`'s copy of a frame is good; what the scan knows of it. */
interface Seen {
  copy?: ImageEntry
  ours?: ImageEntry
  primaryDamaged: boolean
  /** In the subset (or no subset). */
  checked: boolean
  /** Last found damaged by a read-back (the ledger's `damaged`). */
  damaged: boolean
}

/**
 * Replica `i`'s copy of a frame: undefined if good (listed of the right size; in the subset, read
 * back and hashed too), else why not.
 */
async function judge(
  { replicas, ledger }: VerifyParts,
  i: number,
  sha256: string,
  { copy, ours, primaryDamaged, checked, damaged }: Seen,
  options: VerifyOptions,
  copies: VerifyReport
): Promise<FindingReason | undefined> {
  const replica = replicas[i]!
  if (copy === undefined) return 'missing'
  // of another size than a damaged primary copy (the one to heal: its own report names it), it is judged as any
  if (copy.size !== undefined && ours?.size !== undefined && copy.size !== ours.size && !primaryDamaged)
    return 'corrupt'
  if ((options.subset === undefined || !checked) && !primaryDamaged) return damaged ? 'corrupt' : undefined
  // the full tier (and any copy of a frame whose primary copy is damaged): read back, hashed by the replica's fetch
  const error = await replica.storage.fetch(sha256, { signal: options.signal }).then(
    () => undefined,
    (err: unknown) => err
  )
  const failed = error === undefined ? undefined : failureFields(error).code
  if (failed === 'ERR_INTEGRITY') {
    // durable: once the pass ends, only this record says so, until the subset comes round again
    await ledger.append(replica.name, [{ sha256, at: Date.now(), how: HOW.damaged }], { durable: true })
    return 'corrupt'
  }
  if (failed === 'ERR_NOT_FOUND') return 'missing'
  if (options.signal?.aborted === true) throw options.signal.reason
  if (error !== undefined)
    throw new StorageUnavailableError(
      `cannot read ${sha256} from the replica ${replica.name} (${failed ?? (error as Error).message}): ` +
        'check that it is reachable, then run verify again',
      replica.storage.location ?? replica.name,
      { cause: error }
    )
  copies.checked++
  copies.bytes += copy.size ?? 0
  await ledger.append(replica.name, [{ sha256, at: Date.now(), how: HOW.rehash }])
  return undefined
}

/** The counts of this pass, for `status` (and monitors) in any process. */
async function record({ layout }: Pick<Parts, 'layout'>, tally: Tally, options: VerifyOptions, began: Date) {
  // a part of the store gives no store's counts; a subset does (all counted, a part read back)
  if (options.after !== undefined || options.signal?.aborted === true) return
  const { belowWanted: belowWantedCopies, lost } = tally
  const value: VerifyRecord = { at: new Date().toISOString(), began: began.toISOString(), belowWantedCopies, lost }
  await writeRecord(layout.verifyRecord, value)
}
