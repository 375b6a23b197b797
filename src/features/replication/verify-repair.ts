/**
 * What a verify's repair does (verify.ts decides whether it acts, by `stormCheck`): the primary's damaged and
 * missing copies healed from a good replica copy, and what a replica lacks or holds damaged
 * copied to it again; each finding `restored` only once the copy reads back whole.
 */
import { type Storm, stormOf } from '../../core/storm.js'
import type { ImageStorage } from '../../core/types.js'
import {
  addFinding,
  type Finding,
  type FindingReason,
  type VerifyOptions,
  type VerifyReport
} from '../../core/verify-report.js'
import { PRIMARY } from './ledger.js'
import type { Parts } from './parts.js'
import type { Spill } from './spill.js'

/** What the scan found, for the storm guard. */
export interface Found {
  /** The primary's own verify, and how many of its frames it found damaged. */
  own: VerifyReport
  damaged: number
  /** The spill's counts: missing on the primary, then per replica, then lost. */
  counts: number[]
  objects: number
}

/** Whether a repair of these findings would be a storm (storm.ts): too much to do in one pass. */
export function stormCheck(found: Found, replicas: Parts['replicas'], options: VerifyOptions): Storm | undefined {
  const ownCount = (reason: FindingReason): number => found.own.counts[reason] ?? 0
  const by = {
    misnamed: ownCount('misnamed') + ownCount('misplaced'),
    damaged: found.damaged,
    missing: found.counts[0]!,
    missingOn: Object.fromEntries(replicas.map((r, i) => [r.name, found.counts[i + 1]!]))
  }
  const all = by.misnamed + by.damaged + found.counts.slice(0, replicas.length + 1).reduce((a, b) => a + b, 0)
  return stormOf(all, found.objects + by.misnamed, by, options.stormLimit)
}

/** The copies a repair restored, per frame (a frame's are many if it lacked many). */
export type Made = Map<string, number>

function madeOne(made: Made, sha256: string): void {
  made.set(sha256, (made.get(sha256) ?? 0) + 1)
}

/** The findings of a primary's own verify that a replica's copy can heal. */
export const DAMAGE: ReadonlySet<FindingReason> = new Set(['empty', 'truncated', 'corrupt'])

type HealParts = Pick<Parts, 'primary' | 'reader' | 'healer'>

/** The primary's own damage: quarantined by its repair, then healed from a good copy where there is one. */
export async function healPrimary(
  parts: HealParts,
  own: VerifyReport,
  act: boolean,
  options: VerifyOptions,
  made: Made
): Promise<VerifyReport> {
  if (!act || Object.keys(own.counts).length === 0) return own
  // the storm guard was this pass's: the primary's repair is not to judge it again on its own findings
  const report = await parts.primary.verify!({ ...options, repair: true, force: true, onFinding: undefined })
  for (const finding of report.problems) {
    const sha256 = /[0-9a-f]{64}/i.exec(finding.key)?.[0]?.toLowerCase()
    if (sha256 !== undefined && finding.reason === 'misplaced' && finding.action === 'moved') madeOne(made, sha256)
    if (
      sha256 === undefined ||
      !DAMAGE.has(finding.reason) ||
      finding.action !== 'quarantined' ||
      !(await heal(parts, sha256, finding.reason))
    )
      continue
    finding.action = 'restored'
    madeOne(made, sha256)
    report.quarantined--
    report.restored++
  }
  report.clean =
    report.problems.every(p => p.action === 'restored' || p.action === 'removed' || p.action === 'moved') &&
    Object.values(report.counts).reduce((a, b) => a + b, 0) === report.problems.length
  return report
}

/** The frames missing on the primary (not evicted): named, and healed when the repair acts. */
export async function healMissing(
  parts: HealParts,
  missing: AsyncIterable<{ sha256: string; reason: FindingReason }>,
  act: boolean,
  copies: VerifyReport,
  made: Made,
  onFinding?: VerifyOptions['onFinding']
): Promise<void> {
  const { primary } = parts
  for await (const { sha256, reason } of missing) {
    const finding: Finding = { path: primary.pathOf(sha256), key: primary.keyOf(sha256), reason, copy: PRIMARY }
    onFinding?.({ ...finding })
    if (act) finding.action = (await heal(parts, sha256, 'missing')) ? 'restored' : 'left'
    if (finding.action === 'restored') madeOne(made, sha256)
    addFinding(copies, finding)
  }
}

/** What the replicas lack or hold damaged: queued, copied, and `restored` only once read back whole. */
export async function copyAgain(
  { replicas, outbox, copier }: Pick<Parts, 'replicas' | 'outbox' | 'copier'>,
  spill: Spill,
  act: boolean,
  copies: VerifyReport,
  { signal, onFinding }: Pick<VerifyOptions, 'signal' | 'onFinding'>,
  made: Made
): Promise<void> {
  const queued: Array<{ finding: Finding; sha256: string; i: number }> = []
  for (const [i, replica] of replicas.entries()) {
    for await (const { sha256, reason } of spill.read(i + 1)) {
      const { storage } = replica
      const finding: Finding = { path: storage.pathOf(sha256), key: storage.keyOf(sha256), reason, copy: replica.name }
      onFinding?.({ ...finding })
      if (act) {
        await outbox.add(sha256, [replica.name])
        if (queued.length < 10_000) queued.push({ finding, sha256, i })
        else finding.action = 'left'
      }
      addFinding(copies, finding)
    }
  }
  if (queued.length === 0) return
  await copier.drain(signal, true)
  for (const { finding, sha256, i } of queued) {
    const whole = await replicas[i]!.storage.fetch(sha256, { signal }).then(
      () => true,
      () => false
    )
    finding.action = whole ? 'restored' : 'left'
    if (!whole) continue
    copies.restored++
    madeOne(made, sha256)
  }
  copies.clean = copies.problems.every(p => p.action === 'restored')
}

/** The frames below their copies (spilled as `<sha256> <copies lacking>`) that the repair restored every copy of. */
export async function madeWhole(spill: Spill, below: number, made: Made): Promise<number> {
  let whole = 0
  if (made.size > 0)
    for await (const { sha256, reason } of spill.read(below)) if ((made.get(sha256) ?? 0) >= Number(reason)) whole++
  return whole
}

/** Heals one primary copy from the replicas: true once it is written and reads back whole. */
async function heal({ primary, reader, healer }: HealParts, sha256: string, reason: string): Promise<boolean> {
  // the replicas only (the primary's copy is what is being healed), by the one read policy (reads.ts)
  const fromReplica = async (copy: ImageStorage, name: string): Promise<Buffer | undefined> =>
    name === PRIMARY ? undefined : await copy.fetch(sha256)
  const found = await reader.read(sha256, fromReplica).catch(() => undefined) // (a damaged last copy is logged)
  if (found === undefined || !(await healer.writeBack(sha256, found.value, found.from, reason))) return false
  return await primary.fetch(sha256).then(
    () => true,
    () => false
  )
}

/** What crashes left beside each replica's objects (a copier's temps, a prune's): reported; a repair sweeps it. */
export async function sweepReplicas(
  parts: Pick<Parts, 'replicas'>,
  copies: VerifyReport,
  options: VerifyOptions,
  repair: boolean
): Promise<void> {
  for (const { name, storage } of parts.replicas) {
    const { tempMinAgeMs, signal } = options
    const swept = await storage.verify?.({ repair, leftoversOnly: true, tempMinAgeMs, signal })
    for (const finding of swept?.problems ?? []) {
      options.onFinding?.({ ...finding, copy: name })
      addFinding(copies, { ...finding, copy: name })
    }
  }
}
