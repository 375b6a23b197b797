/**
 * The fsck of every copy. The primary re-hashes its objects (or a subset); the listings of every
 * copy side by side find what one lacks (existence and size: the cheap tier, no request per
 * object); the replicas' copies of the subset are read back and hashed (the full tier, a bounded
 * egress: `--subset $((day % 30))/30` reads every copy once in 30 days). A repair heals the
 * primary from a good copy (quarantined only when none is left: the frame is lost) and copies
 * again what a replica lacks. A storm guard: more damage than `stormLimit` in one pass means a
 * wrong mount, bucket or credentials, not bit rot, and nothing is repaired unless forced. What a
 * pass finds is spilled to a file, not held: memory stays bounded at any count.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { failureFields } from '../../core/logger.js'
import type { ImageStorage } from '../../core/types.js'
import { addFinding, emptyReport, inSubset, mergeReports, type Finding, type FindingReason, type VerifyOptions, type VerifyReport } from '../../core/verify-report.js'
import { PRIMARY } from './ledger.js'
import { mergeListings } from './merge.js'
import type { ReplicatedStorage } from './storage.js'

const OBJECT_DAMAGE = new Set(['empty', 'truncated', 'corrupt'])

export type ReplicatedVerifyReport = VerifyReport & { storm?: { damaged: number, limit: number } }

export async function verifyReplicated (storage: ReplicatedStorage, options: VerifyOptions = {}): Promise<ReplicatedVerifyReport> {
  const { primary, replicas, parts } = storage
  const repair = options.repair === true
  const own = primary.verify === undefined ? emptyReport(false) : await primary.verify({ ...options, repair: false })
  const damagedOwn = new Set(own.problems.filter(p => OBJECT_DAMAGE.has(p.reason)).map(p => /[0-9a-f]{64}/.exec(p.key)?.[0]))
  const damaged = damagedOwn.size
  await mkdir(parts.stateDir, { recursive: true })
  const spill = new Spill(parts.stateDir, replicas.length + 1) // 0: missing on the primary; i + 1: what replica i lacks
  const copies = emptyReport(repair)
  try {
    for await (const { sha256, entries } of mergeListings([primary, ...replicas.map(r => r.storage)].map(s => s.list({ after: options.after, signal: options.signal })))) {
      const [ours, ...theirs] = entries
      if (ours === undefined) {
        if (!storage.evicted(sha256) && inSubset(sha256, options.subset)) await spill.add(0, sha256, 'missing')
        continue
      }
      for (const [i, copy] of theirs.entries()) {
        if (copy === undefined) await spill.add(i + 1, sha256, 'missing')
        else if (copy.size !== undefined && ours.size !== undefined && copy.size !== ours.size) {
          if (!damagedOwn.has(sha256)) await spill.add(i + 1, sha256, 'corrupt') // (a damaged primary copy is the one to heal)
        }
        else if (options.subset !== undefined && inSubset(sha256, options.subset)) {
          // the full tier: the copy read back and hashed (the replica's fetch verifies it)
          const failed = await replicas[i]!.storage.fetch(sha256, { signal: options.signal }).then(() => undefined, (err: unknown) => failureFields(err).code)
          if (failed === 'ERR_INTEGRITY' || failed === 'ERR_NOT_FOUND') await spill.add(i + 1, sha256, failed === 'ERR_NOT_FOUND' ? 'missing' : 'corrupt')
          else if (failed !== undefined) throw new Error(`cannot read ${sha256} from ${replicas[i]!.name}: ${failed}`)
          else {
            copies.checked++
            copies.bytes += copy.size ?? 0
            await parts.ledger.append(replicas[i]!.name, [{ sha256, at: Date.now(), how: 'rehash' }])
          }
        }
      }
    }
    await spill.close()
    const limit = storage.init.stormLimit ?? 100
    const found = damaged + spill.counts.reduce((a, b) => a + b, 0)
    const act = repair && (found <= limit || options.force === true)

    // the primary's own damage: quarantined by its repair, then healed from a good copy where there is one
    let report = own
    if (act && Object.keys(own.counts).length > 0) report = await primary.verify!({ ...options, repair: true })
    for (const finding of report.problems) {
      const sha256 = /[0-9a-f]{64}/.exec(finding.key)?.[0]
      if (sha256 === undefined || !OBJECT_DAMAGE.has(finding.reason) || finding.action !== 'quarantined' || !await heal(storage, sha256, finding.reason)) continue
      finding.action = 'restored'
      report.quarantined--
      report.restored++
    }
    report.clean = report.problems.every(p => p.action === 'restored' || p.action === 'removed') && Object.values(report.counts).reduce((a, b) => a + b, 0) === report.problems.length
    for await (const { sha256, reason } of spill.read(0)) {
      const finding: Finding = { path: primary.pathOf(sha256), key: primary.keyOf(sha256), reason, copy: PRIMARY }
      if (act) finding.action = await heal(storage, sha256, 'missing') ? 'restored' : 'left'
      addFinding(copies, finding)
    }
    const queued: Array<{ finding: Finding, replica: string }> = []
    for (const [i, replica] of replicas.entries()) {
      for await (const { sha256, reason } of spill.read(i + 1)) {
        const finding: Finding = { path: replica.storage.pathOf(sha256), key: replica.storage.keyOf(sha256), reason, copy: replica.name }
        if (act) {
          await parts.outbox.add(sha256, [replica.name])
          if (queued.length < 10_000) queued.push({ finding, replica: replica.name })
        }
        addFinding(copies, finding)
      }
    }
    if (act && queued.length > 0) {
      await parts.copier.drain(options.signal, true)
      for (const { finding, replica } of queued) {
        const left = parts.outbox.pending(replica).includes(/[0-9a-f]{64}/.exec(finding.key)?.[0] ?? '')
        finding.action = left ? 'left' : 'restored'
        if (!left) copies.restored++
      }
      copies.clean = copies.problems.every(p => p.action === 'restored')
    }
    const merged = mergeReports(report, copies)
    return repair && !act ? { ...merged, clean: false, storm: { damaged: found, limit } } : merged
  } finally {
    await spill.close()
    await spill.remove()
  }
}

/** Heals one primary copy from the replicas: true once it is whole again. */
async function heal (storage: ReplicatedStorage, sha256: string, reason: string): Promise<boolean> {
  // the replicas only (the primary's copy is what is being healed), by the one read policy (reads.ts)
  const fromReplica = async (copy: ImageStorage, name: string): Promise<Buffer | undefined> => name === PRIMARY ? undefined : await copy.fetch(sha256)
  const found = await storage.parts.reader.read(sha256, fromReplica).catch(() => undefined) // (a damaged last copy is logged)
  return found !== undefined && await storage.parts.healer.writeBack(sha256, found.value, found.from, reason)
}

/** Findings written to files as they come (`<sha256> <reason>` lines), read back once the pass is over. */
class Spill {
  readonly counts: number[]
  private readonly files: WriteStream[]
  private readonly paths: string[]

  constructor (dir: string, n: number) {
    const tag = `${process.pid}-${Date.now()}`
    this.paths = Array.from({ length: n }, (_, i) => join(dir, `verify-${tag}-${i}.tmp`))
    this.files = this.paths.map(path => createWriteStream(path))
    this.counts = this.paths.map(() => 0)
  }

  async add (i: number, sha256: string, reason: FindingReason): Promise<void> {
    this.counts[i]!++
    if (!this.files[i]!.write(`${sha256} ${reason}\n`)) await once(this.files[i]!, 'drain')
  }

  async close (): Promise<void> {
    await Promise.all(this.files.map(async file => await new Promise(resolve => file.end(resolve))))
  }

  async * read (i: number): AsyncGenerator<{ sha256: string, reason: FindingReason }> {
    for await (const line of createInterface({ input: createReadStream(this.paths[i]!), crlfDelay: Infinity })) {
      const [sha256, reason] = line.split(' ')
      if (sha256 !== undefined && reason !== undefined) yield { sha256, reason: reason as FindingReason }
    }
  }

  async remove (): Promise<void> {
    await Promise.all(this.paths.map(async path => await rm(path, { force: true })))
  }
}
