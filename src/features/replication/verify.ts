/**
 * The fsck of every copy, of every frame the store is responsible for: those on the primary, and
 * those evicted from it (the ledger's marks and the replicas' listings, merged in step). The
 * primary re-hashes its objects (or a subset); the listings side by side find what a copy lacks
 * (the cheap tier, no request per object); the replicas' copies of the subset are read back and
 * hashed, an evicted frame's too (the full tier: `--subset $((day % 30))/30` reads every copy once
 * in 30 days). A frame with fewer good copies than wanted is named; one with none is `lost`. A
 * repair heals the primary from a good copy and copies again what a replica lacks, unless the
 * storm guard (storm.ts) says the pass would do too much. The counts go to `{state}/verify.json`
 * for `status`. Findings are spilled to files, not held.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { failureFields } from '../../core/logger.js'
import { stormOf, type StormLimit } from '../../core/storm.js'
import type { ImageEntry, ImageStorage } from '../../core/types.js'
import {
  addFinding,
  emptyReport,
  inSubset,
  mergeReports,
  type Finding,
  type FindingReason,
  type VerifyOptions,
  type VerifyReport
} from '../../core/verify-report.js'
import { PRIMARY } from './ledger.js'
import { mergeListings } from './merge.js'
import { Spill } from './spill.js'
import type { ReplicatedStorage } from './storage.js'

const OBJECT_DAMAGE = new Set(['empty', 'truncated', 'corrupt'])

export type ReplicatedVerifyReport = VerifyReport & {
  /** Frames with fewer good copies than wanted (the primary and every replica; an evicted frame: every replica), and with none. */
  copies: { belowWanted: number; lost: number }
}

/** What `status` reads of the last verify. */
export interface VerifyRecord {
  at: string
  belowWantedCopies: number
  lost: number
}

export async function verifyReplicated(
  storage: ReplicatedStorage,
  options: VerifyOptions = {}
): Promise<ReplicatedVerifyReport> {
  const { primary, replicas, parts } = storage
  const repair = options.repair === true
  const own = primary.verify === undefined ? emptyReport(false) : await primary.verify({ ...options, repair: false })
  const damagedOwn = new Set(
    own.problems.filter(p => OBJECT_DAMAGE.has(p.reason)).map(p => /[0-9a-f]{64}/.exec(p.key)?.[0])
  )
  await mkdir(parts.stateDir, { recursive: true })
  // 0: missing on the primary; i + 1: what replica i lacks or holds damaged; last: lost frames
  const spill = new Spill(parts.stateDir, replicas.length + 2)
  const LOST = replicas.length + 1
  const copies = emptyReport(repair)
  const tally = { objects: 0, belowWanted: 0, lost: 0 }
  try {
    const listings: Array<AsyncIterable<ImageEntry>> = [primary, ...replicas.map(r => r.storage)].map(s =>
      s.list({ after: options.after, signal: options.signal })
    )
    for await (const { sha256, entries } of mergeListings([...listings, parts.ledger.evicted(options.after)])) {
      const [ours, ...theirs] = entries.slice(0, replicas.length + 1)
      const evicted = ours === undefined && entries[replicas.length + 1] !== undefined
      const checked = inSubset(sha256, options.subset)
      tally.objects++
      if (ours === undefined && !evicted && checked) await spill.add(0, sha256, 'missing')
      let good = ours !== undefined && !damagedOwn.has(sha256) ? 1 : 0
      for (const [i, copy] of theirs.entries()) {
        const reason = await judge(
          storage,
          i,
          sha256,
          { copy, ours, primaryDamaged: damagedOwn.has(sha256), checked },
          options,
          copies
        )
        if (reason === undefined) good++
        else await spill.add(i + 1, sha256, reason)
      }
      if (good < replicas.length + (evicted ? 0 : 1)) tally.belowWanted++
      if (good === 0) {
        tally.lost++
        await spill.add(LOST, sha256, 'lost')
      }
    }
    await spill.close()
    const ownCount = (reason: FindingReason): number => own.counts[reason] ?? 0
    const by = {
      misnamed: ownCount('misnamed') + ownCount('misplaced'),
      damaged: damagedOwn.size,
      missing: spill.counts[0]!,
      missingOn: Object.fromEntries(replicas.map((r, i) => [r.name, spill.counts[i + 1]!]))
    }
    const found = by.misnamed + by.damaged + spill.counts.slice(0, LOST).reduce((a, b) => a + b, 0)
    const limit: StormLimit = options.stormLimit ?? { count: storage.init.stormLimit }
    const storm = repair ? stormOf(found, tally.objects + by.misnamed, by, limit) : undefined
    const act = repair && (storm === undefined || options.force === true)

    const report = await healPrimary(storage, own, act, options)
    for await (const { sha256, reason } of spill.read(0)) {
      const finding: Finding = { path: primary.pathOf(sha256), key: primary.keyOf(sha256), reason, copy: PRIMARY }
      if (act) finding.action = (await heal(storage, sha256, 'missing')) ? 'restored' : 'left'
      addFinding(copies, finding)
    }
    await copyAgain(storage, spill, act, copies, options.signal)
    for await (const { sha256 } of spill.read(LOST)) {
      addFinding(copies, {
        path: primary.pathOf(sha256),
        key: primary.keyOf(sha256),
        reason: 'lost',
        ...(repair ? { action: 'left' as const } : {})
      })
    }
    const merged = {
      ...mergeReports(report, copies),
      repaired: repair,
      copies: { belowWanted: tally.belowWanted, lost: tally.lost }
    }
    await record(storage, tally, options)
    if (storm === undefined) return merged
    return act ? { ...merged, storm: { ...storm, refused: false } } : { ...merged, clean: false, storm }
  } finally {
    await spill.close()
    await spill.remove()
  }
}

/**
 * Replica `i`'s copy of a frame: undefined if good (listed of the right size; in the subset, read
 * back and hashed too), else why not.
 */
async function judge(
  storage: ReplicatedStorage,
  i: number,
  sha256: string,
  seen: Seen,
  options: VerifyOptions,
  copies: VerifyReport
): Promise<FindingReason | undefined> {
  const replica = storage.replicas[i]!
  const { copy, ours, primaryDamaged, checked } = seen
  if (copy === undefined) return 'missing'
  if (copy.size !== undefined && ours?.size !== undefined && copy.size !== ours.size) {
    return primaryDamaged ? undefined : 'corrupt' // (a damaged primary copy is the one to heal: its own report names it)
  }
  if (options.subset === undefined || !checked) return undefined
  // the full tier: the copy read back and hashed (the replica's fetch verifies it)
  const failed = await replica.storage.fetch(sha256, { signal: options.signal }).then(
    () => undefined,
    (err: unknown) => failureFields(err).code
  )
  if (failed === 'ERR_INTEGRITY') return 'corrupt'
  if (failed === 'ERR_NOT_FOUND') return 'missing'
  if (failed !== undefined)
    throw new Error(
      `cannot read ${sha256} from the replica ${replica.name} (${failed}): check that it is reachable, then run verify again`
    )
  copies.checked++
  copies.bytes += copy.size ?? 0
  await storage.parts.ledger.append(replica.name, [{ sha256, at: Date.now(), how: 'rehash' }])
  return undefined
}

interface Seen {
  copy?: ImageEntry
  ours?: ImageEntry
  primaryDamaged: boolean
  /** In the subset (or no subset). */
  checked: boolean
}

/** The primary's own damage: quarantined by its repair, then healed from a good copy where there is one. */
async function healPrimary(
  storage: ReplicatedStorage,
  own: VerifyReport,
  act: boolean,
  options: VerifyOptions
): Promise<VerifyReport> {
  if (!act || Object.keys(own.counts).length === 0) return own
  // the storm guard was this pass's: the primary's repair is not to judge it again on its own findings
  const report = await storage.primary.verify!({ ...options, repair: true, force: true })
  for (const finding of report.problems) {
    const sha256 = /[0-9a-f]{64}/.exec(finding.key)?.[0]
    if (
      sha256 === undefined ||
      !OBJECT_DAMAGE.has(finding.reason) ||
      finding.action !== 'quarantined' ||
      !(await heal(storage, sha256, finding.reason))
    )
      continue
    finding.action = 'restored'
    report.quarantined--
    report.restored++
  }
  report.clean =
    report.problems.every(p => p.action === 'restored' || p.action === 'removed' || p.action === 'moved') &&
    Object.values(report.counts).reduce((a, b) => a + b, 0) === report.problems.length
  return report
}

/** What the replicas lack or hold damaged: queued, copied, and `restored` only once read back whole. */
async function copyAgain(
  storage: ReplicatedStorage,
  spill: Spill,
  act: boolean,
  copies: VerifyReport,
  signal?: AbortSignal
): Promise<void> {
  const { replicas, parts } = storage
  const queued: Array<{ finding: Finding; sha256: string; i: number }> = []
  for (const [i, replica] of replicas.entries()) {
    for await (const { sha256, reason } of spill.read(i + 1)) {
      const finding: Finding = {
        path: replica.storage.pathOf(sha256),
        key: replica.storage.keyOf(sha256),
        reason,
        copy: replica.name
      }
      if (act) {
        await parts.outbox.add(sha256, [replica.name])
        if (queued.length < 10_000) queued.push({ finding, sha256, i })
        else finding.action = 'left'
      }
      addFinding(copies, finding)
    }
  }
  if (queued.length === 0) return
  await parts.copier.drain(signal, true)
  for (const { finding, sha256, i } of queued) {
    const whole = await replicas[i]!.storage.fetch(sha256, { signal }).then(
      () => true,
      () => false
    )
    finding.action = whole ? 'restored' : 'left'
    if (whole) copies.restored++
  }
  copies.clean = copies.problems.every(p => p.action === 'restored')
}

/** Heals one primary copy from the replicas: true once it is written and reads back whole. */
async function heal(storage: ReplicatedStorage, sha256: string, reason: string): Promise<boolean> {
  // the replicas only (the primary's copy is what is being healed), by the one read policy (reads.ts)
  const fromReplica = async (copy: ImageStorage, name: string): Promise<Buffer | undefined> =>
    name === PRIMARY ? undefined : await copy.fetch(sha256)
  const found = await storage.parts.reader.read(sha256, fromReplica).catch(() => undefined) // (a damaged last copy is logged)
  if (found === undefined || !(await storage.parts.healer.writeBack(sha256, found.value, found.from, reason)))
    return false
  return await storage.primary.fetch(sha256).then(
    () => true,
    () => false
  )
}

/** The counts of this pass, for `status` (and monitors) in any process. */
async function record(
  storage: ReplicatedStorage,
  tally: { belowWanted: number; lost: number },
  options: VerifyOptions
): Promise<void> {
  // a part of the store does not give the store's counts
  if (options.after !== undefined || options.signal?.aborted === true || (options.subset?.count ?? 1) > 1) return
  const path = join(storage.parts.stateDir, 'verify.json')
  const value: VerifyRecord = { at: new Date().toISOString(), belowWantedCopies: tally.belowWanted, lost: tally.lost }
  await writeFile(`${path}.tmp`, JSON.stringify(value))
  await rename(`${path}.tmp`, path)
}
