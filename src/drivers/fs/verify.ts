/**
 * The fsck, what a server operator runs after a power cut: every object re-hashed (on every core,
 * by the walk's workers), stray temps and a killed prune's set-aside objects found. With `repair`:
 * bad objects go to the quarantine, strays are removed, set-aside objects are put back.
 */
import { dirname, join } from 'node:path'
import { unlink } from 'node:fs/promises'
import type { StoreDirs } from './write.js'
import { findLeftovers, tempAge } from './leftovers.js'
import { isMissing } from '../../core/errors.js'
import { hashOfDecodedKey, type ShardingStrategy } from '../../core/sharding.js'
import { stormOf } from '../../core/storm.js'
import {
  addFinding,
  emptyReport,
  type Finding,
  type FindingReason,
  type VerifyOptions,
  type VerifyReport
} from '../../core/verify-report.js'
import type { FilesystemQuarantine } from './quarantine.js'
import { sha256OfKey } from './listing.js'
import { moveIntoPlace, putBack } from './set-aside.js'
import type { UnitResult } from './walk-workers.js'
import { walkUnits } from './walk.js'

const HOUR_MS = 60 * 60 * 1000
const JPEG_START = 0xffd8
const JPEG_END = 0xffd9

/** What a repair would quarantine or move: the storm guard counts these (storm.ts). */
const HARMFUL = new Set(['empty', 'truncated', 'corrupt', 'misnamed', 'misplaced'])

export async function verifyStore(
  root: string,
  sharding: ShardingStrategy,
  quarantine: FilesystemQuarantine,
  dirs: StoreDirs,
  options: VerifyOptions = {}
): Promise<VerifyReport> {
  const act = actor(root, sharding, quarantine, dirs)
  if (options.repair !== true || options.force === true)
    return await pass(root, sharding, act, quarantine, options, options.repair === true)
  // a repair looks first, and acts only if what it would do is no storm (a wrong layout setting quarantines everything)
  const acts = new Map<Finding, string | undefined>()
  const seen = await pass(root, sharding, act, quarantine, options, false, acts)
  const count = (reason: FindingReason): number => seen.counts[reason] ?? 0
  const harmful = [...HARMFUL].reduce((sum, reason) => sum + count(reason as FindingReason), 0)
  const by = {
    misnamed: count('misnamed') + count('misplaced'),
    damaged: count('empty') + count('truncated') + count('corrupt')
  }
  const storm = stormOf(harmful, seen.checked + by.misnamed, by, options.stormLimit)
  if (storm !== undefined) return { ...seen, repaired: true, clean: false, storm }
  const total = Object.values(seen.counts).reduce((a, b) => a + b, 0)
  // more than it listed: a pass that acts as it finds (the look has called onFinding with every finding)
  if (total > seen.problems.length)
    return await pass(root, sharding, act, quarantine, { ...options, onFinding: undefined }, true)
  const report = { ...seen, ...emptyReport(true), checked: seen.checked, bytes: seen.bytes }
  for (const finding of seen.problems) {
    await act(finding, acts.get(finding))
    addFinding(report, finding)
  }
  report.quarantine = quarantine.totals()
  return report
}

type Act = (finding: Finding, sha256?: string) => Promise<void>

/** What a repair does about one finding (its `action` set). */
function actor(root: string, sharding: ShardingStrategy, quarantine: FilesystemQuarantine, dirs: StoreDirs): Act {
  return async (finding, sha256) => {
    if (finding.reason === 'not-a-file') {
      // what a folder holds is not the store's to delete or move: the operator moves it aside
      finding.action = 'left'
    } else if (finding.reason === 'stray-temp') {
      await unlink(finding.path).catch((err: unknown) => {
        if (!isMissing(err)) throw err
      })
      finding.action = 'removed'
    } else if (finding.reason === 'set-aside') {
      finding.movedTo = join(root, sharding.encode(sha256!))
      await putBack(finding.path, finding.movedTo, true)
      finding.action = 'restored'
    } else if (finding.reason === 'misplaced') {
      const target = join(root, sharding.encode(sha256!))
      finding.action = (await moveIntoPlace(finding.path, target, () => dirs.make(dirname(target), root)))
        ? 'moved'
        : 'left'
      if (finding.action === 'moved') finding.movedTo = target
    } else if (finding.reason === 'misnamed') {
      finding.movedTo = await quarantine.take(finding.path, sha256!, finding.reason, finding.key)
      finding.action = 'quarantined'
    } else {
      // damaged when the scan read it, maybe whole now (a repair acts after its whole look): put back if so
      const moved = await quarantine.takeDamaged(finding.path, sha256!, finding.reason)
      finding.action = moved === undefined ? 'restored' : 'quarantined'
      finding.movedTo = moved ?? finding.path
    }
  }
}

/** One look over the store: every object re-hashed, then the temps and set-aside objects left behind. */
async function pass(
  root: string,
  sharding: ShardingStrategy,
  act: Act,
  quarantine: FilesystemQuarantine,
  options: VerifyOptions,
  repair: boolean,
  acts?: Map<Finding, string | undefined>
): Promise<VerifyReport> {
  const { tempMinAgeMs = HOUR_MS } = options
  const report = emptyReport(repair)
  const now = Date.now()
  const look: Look = {
    root,
    sharding,
    report,
    // 0 takes every leftover: a file time can read a fraction of a millisecond after `now` (the
    // kernel's clock is coarser than Date.now()), and such a set-aside was skipped (found by test/crash)
    old: ms => tempMinAgeMs <= 0 || now - ms >= tempMinAgeMs,
    found: async (finding, sha256) => {
      options.onFinding?.({ ...finding })
      if (repair) await act(finding, sha256)
      addFinding(report, finding)
      if (acts !== undefined && report.problems.at(-1) === finding) acts.set(finding, sha256)
    }
  }
  if (options.leftoversOnly !== true) await checkObjects(look, options)
  await findLeftovers(look.root, look.old, look.found)
  report.quarantine = quarantine.totals()
  return report
}

/** What a pass's steps share: the report they fill and `found`, which repairs (in a repair) and reports. */
interface Look {
  root: string
  sharding: ShardingStrategy
  report: VerifyReport
  /** Whether a leftover changed at `ms` is old enough to be no live writer's or prune's. */
  old: (ms: number) => boolean
  found: (finding: Finding, sha256?: string) => Promise<void>
}

/** Every file under the shard folders, re-hashed by the walk, checked against its name, unit by unit. */
async function checkObjects(look: Look, options: VerifyOptions): Promise<void> {
  const { report } = look
  // a million files: read from the unit's columns (walk.ts), a path made only for a finding, a
  // promise only for a finding (an await per file was a tenth of verify's main thread)
  const prefix = join(look.root, '/')
  for await (const unit of walkUnits(look.root, look.sharding, {
    hash: true,
    subset: options.subset,
    after: options.after,
    signal: options.signal,
    workers: options.concurrency
  })) {
    let lastDone: string | number | undefined // an intact object's index: its SHA-256 is made at the end
    for (let i = 0; i < unit.count; i++) {
      const checked = checkFile(look, unit, i, prefix)
      if (typeof checked === 'number' || typeof checked === 'string') lastDone = checked
      else if (checked !== undefined) {
        await look.found(checked.finding, checked.sha256)
        if (checked.object) lastDone = checked.sha256
      }
    }
    if (typeof lastDone === 'number') lastDone = hashOfDecodedKey(unit.key(lastDone))
    options.onProgress?.({ checked: report.checked, bytes: report.bytes, lastDone })
  }
}

/** A file the check found wrong: the finding, the SHA-256 to act by, whether it was an object checked. */
interface Found {
  finding: Finding
  sha256?: string
  object: boolean
}

/**
 * The unit's file `i`: a stray temp, a misnamed or misplaced file, a folder named as an object, or
 * an object checked. For an intact object its index (one the walk found intact) or SHA-256; what
 * was found for any other; undefined for a file that is neither.
 */
function checkFile(look: Look, unit: UnitResult, i: number, prefix: string): number | string | Found | undefined {
  const { report } = look
  const n = unit.numbers
  const [size, mtimeMs, kind, head, tail] = [n[i * 5]!, n[i * 5 + 1]!, n[i * 5 + 2]!, n[i * 5 + 3]!, n[i * 5 + 4]!]
  if (kind === 3) {
    report.checked++
    report.bytes += size
    return i
  }
  const key = unit.key(i)
  if (kind === 4)
    return look.sharding.decode(key) === undefined
      ? undefined
      : { finding: { path: prefix + key, key, reason: 'not-a-file' }, object: false }
  if (key.endsWith('.tmp'))
    return look.old(tempAge(prefix + key, mtimeMs))
      ? { finding: { path: prefix + key, key, reason: 'stray-temp' }, object: false }
      : undefined
  const sha256 = sha256OfKey(key, kind, look.sharding)
  const actual = unit.actual(i)
  if (actual === '') return undefined // removed while we walked
  if (sha256 === undefined) {
    const named = nameHash(key)
    const reason = named === actual ? 'misplaced' : 'misnamed'
    return { finding: { path: prefix + key, key, reason }, sha256: named ?? actual, object: false }
  }
  report.checked++
  report.bytes += size
  if (actual === sha256) return sha256
  const reason = size === 0 ? 'empty' : head === JPEG_START && tail !== JPEG_END ? 'truncated' : 'corrupt'
  return { finding: { path: prefix + key, key, reason }, sha256, object: true }
}

/** The SHA-256 a misnamed file's name claims (in any case), if it claims one. */
function nameHash(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1)
  return /^[0-9a-f]{64}/i.test(name) ? name.slice(0, 64).toLowerCase() : undefined
}
