/**
 * The S3 fsck and quarantine: every object (or a subset) read back and re-hashed, several at once;
 * damaged ones moved to `{prefix}.quarantine/<sha256>.<ms>.<reason>` by a repair (copied there,
 * then deleted), and the claims of killed prunes removed.
 */
import { forEachConcurrent } from '../../core/concurrency.js'
import { quarantineEntry, quarantineName } from '../../core/quarantine.js'
import { parseImageRef } from '../../core/ref.js'
import type { PrefixSharding } from '../../core/sharding.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import { IntegrityError } from '../../core/errors.js'
import { stormOf } from '../../core/storm.js'
import type { AbortOptions, Quarantine, QuarantineEntry, RestoreOptions } from '../../core/types.js'
import {
  addFinding,
  emptyReport,
  inSubset,
  type Finding,
  type FindingReason,
  type VerifyOptions,
  type VerifyReport
} from '../../core/verify-report.js'
import type { PruneClaims } from './claim.js'
import type { S3Objects } from './objects.js'

export class S3Quarantine implements Quarantine {
  readonly prefix: string

  constructor(
    private readonly objects: S3Objects,
    private readonly storePrefix: string,
    private readonly sharding: PrefixSharding,
    private readonly uri: (key: string) => string
  ) {
    this.prefix = `${storePrefix}${SPECIAL_DIRS.quarantine}/`
  }

  async *list(options: AbortOptions = {}): AsyncGenerator<QuarantineEntry> {
    const entries: QuarantineEntry[] = []
    for await (const { Key, Size } of this.objects.list(this.prefix, options.signal)) {
      const entry = this.entryOf(Key.slice(this.prefix.length), Size ?? 0)
      if (entry !== undefined) entries.push(entry)
    }
    yield* entries.sort((a, b) => a.quarantinedAt.getTime() - b.quarantinedAt.getTime())
  }

  /** The entries of `sha256`: one small listing (on a miss). */
  async holding(sha256: string, signal?: AbortSignal): Promise<QuarantineEntry[]> {
    const entries: QuarantineEntry[] = []
    for await (const { Key, Size } of this.objects.list(`${this.prefix}${sha256}.`, signal)) {
      const entry = this.entryOf(Key.slice(this.prefix.length), Size ?? 0)
      if (entry !== undefined) entries.push(entry)
    }
    return entries
  }

  /** Moves the object at `key` here (a copy, then a delete). */
  async take(key: string, sha256: string, reason: string, signal?: AbortSignal): Promise<string> {
    const target = this.prefix + quarantineName(sha256, reason)
    await this.objects.copy(key, target, signal)
    await this.objects.remove(key, signal)
    return target
  }

  async add(ref: string, reason: string, options: AbortOptions = {}): Promise<QuarantineEntry | undefined> {
    const { sha256 } = parseImageRef(ref)
    const key = this.storePrefix + this.sharding.encode(sha256)
    const head = await this.objects.head(key, options.signal)
    if (head === undefined) return undefined
    const target = await this.take(key, sha256, reason, options.signal)
    return this.entryOf(target.slice(this.prefix.length), head.size)
  }

  async restore(id: string, options: RestoreOptions = {}): Promise<boolean> {
    const entry = this.entryOf(id, 0)
    if (entry === undefined) return false
    const key = this.storePrefix + this.sharding.encode(entry.sha256)
    // an object is there: this copy stays
    if ((await this.objects.head(key, options.signal)) !== undefined) return false
    const actual =
      options.force === true ? entry.sha256 : (await this.objects.read(this.prefix + id, options.signal))?.actual
    if (actual === undefined) return false
    if (actual !== entry.sha256)
      throw new IntegrityError(
        entry.sha256,
        actual,
        this.prefix + id,
        'the quarantined bytes do not match their name, so a fetch would fail on them: ' +
          `\`sai-images quarantine restore --force ${id}\` puts them back anyway; \`quarantine purge ${id}\` deletes them`
      )
    await this.objects.copy(this.prefix + id, key, options.signal)
    await this.objects.remove(this.prefix + id, options.signal)
    return true
  }

  async purge(id: string, options: AbortOptions = {}): Promise<boolean> {
    if (this.entryOf(id, 0) === undefined || (await this.objects.head(this.prefix + id, options.signal)) === undefined)
      return false
    await this.objects.remove(this.prefix + id, options.signal)
    return true
  }

  async totals(signal?: AbortSignal): Promise<{ objects: number; bytes: number }> {
    let objects = 0
    let bytes = 0
    for await (const entry of this.list({ signal })) {
      objects++
      bytes += entry.size
    }
    return { objects, bytes }
  }

  private entryOf(id: string, size: number): QuarantineEntry | undefined {
    return quarantineEntry(id, this.uri(this.prefix + id), size)
  }
}

export async function verifyBucket(
  objects: S3Objects,
  claims: PruneClaims,
  prefix: string,
  sharding: PrefixSharding,
  quarantine: S3Quarantine,
  uri: (key: string) => string,
  options: VerifyOptions = {}
): Promise<VerifyReport> {
  const { repair = false, signal } = options
  // a repair looks first and acts only if what it would quarantine is no storm (storm.ts): mass
  // "damage" is a wrong bucket or endpoint, a proxy that alters bytes, never bit rot
  const report = await checkBucket(objects, claims, prefix, sharding, uri, { ...options, repair: false })
  if (!repair) return { ...report, quarantine: await quarantine.totals(signal) }
  const damaged = report.problems.filter(p => p.reason !== 'stale-claim').length
  const storm = options.force === true ? undefined : stormOf(damaged, report.checked, { damaged }, options.stormLimit)
  if (storm !== undefined)
    return { ...report, repaired: true, clean: false, storm, quarantine: await quarantine.totals(signal) }
  const found = Object.values(report.counts).reduce((a, b) => a + b, 0)
  if (found > report.problems.length) {
    // more than it listed (forced): a second pass acts as it finds
    const take = async (key: string, sha256: string, finding: Finding): Promise<void> => {
      finding.movedTo = uri(await quarantine.take(key, sha256, finding.reason, signal))
      finding.action = 'quarantined'
    }
    const again = await checkBucket(objects, claims, prefix, sharding, uri, { ...options, onFinding: undefined }, take)
    return { ...again, repaired: true, quarantine: await quarantine.totals(signal) }
  }
  const repaired = { ...emptyReport(true), checked: report.checked, bytes: report.bytes }
  for (const finding of report.problems) {
    const key = prefix + finding.key
    if (finding.reason === 'stale-claim') {
      if (!(await claims.isStale(key, signal))) continue // a new prune's since
      await objects.remove(key, signal)
      addFinding(repaired, { ...finding, action: 'removed' })
      continue
    }
    const sha256 = sharding.decode(finding.key)!
    const object = await objects.read(key, signal) // still damaged? (healed or deleted meanwhile: left alone)
    if (object === undefined || object.actual === sha256) continue
    addFinding(repaired, {
      ...finding,
      action: 'quarantined',
      movedTo: uri(await quarantine.take(key, sha256, finding.reason, signal))
    })
  }
  repaired.quarantine = await quarantine.totals(signal)
  return repaired
}

/** Every object (or a subset) read back and re-hashed, several at once, and the claims of killed prunes. */
async function checkBucket(
  objects: S3Objects,
  claims: PruneClaims,
  prefix: string,
  sharding: PrefixSharding,
  uri: (key: string) => string,
  options: VerifyOptions,
  act?: (key: string, sha256: string, finding: Finding) => Promise<void>
): Promise<VerifyReport> {
  const { signal } = options
  const report = emptyReport(false)
  const startAfter = options.after === undefined ? undefined : prefix + sharding.encode(options.after)
  async function* objectsToCheck(): AsyncGenerator<{ key: string; sha256: string }> {
    if (options.leftoversOnly === true) return
    for await (const { Key } of objects.list(prefix, signal, startAfter)) {
      const sha256 = sharding.decode(Key.slice(prefix.length))
      if (sha256 !== undefined && inSubset(sha256, options.subset)) yield { key: Key, sha256 }
    }
  }
  await forEachConcurrent(objectsToCheck(), options.concurrency ?? 4, async ({ key, sha256 }) => {
    const object = await objects.read(key, signal)
    if (object === undefined) return // deleted meanwhile
    report.checked++
    report.bytes += object.bytes.length
    options.onProgress?.({ checked: report.checked, bytes: report.bytes })
    if (object.actual === sha256) return
    const reason: FindingReason =
      object.bytes.length === 0
        ? 'empty'
        : object.bytes[0] === 0xff &&
            object.bytes[1] === 0xd8 &&
            object.bytes.readUInt16BE(object.bytes.length - 2) !== 0xffd9
          ? 'truncated'
          : 'corrupt'
    const finding: Finding = { reason, key: key.slice(prefix.length), path: uri(key) }
    options.onFinding?.({ ...finding })
    await act?.(key, sha256, finding)
    addFinding(report, finding)
  })
  for await (const { Key } of objects.list(`${prefix}${SPECIAL_DIRS.pruning}/`, signal)) {
    if (!(await claims.isStale(Key, signal))) continue // judged by the server's clock
    const finding: Finding = { reason: 'stale-claim', key: Key.slice(prefix.length), path: uri(Key) }
    options.onFinding?.({ ...finding })
    if (act !== undefined) await objects.remove(Key, signal)
    addFinding(report, act === undefined ? finding : { ...finding, action: 'removed' })
  }
  return report
}
