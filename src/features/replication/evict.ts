/**
 * Eviction: frees the primary of old frames that live on in the replicas. A primary copy goes only
 * if, in this same operation, `minCopies` replica copies were read back and hashed (git-annex's
 * drop: proof, not memory), and never a copy that a store renewed meanwhile (`deleteIfNotRenewed`).
 * The eviction is recorded (the ledger's `evicted`, with the last store), so that a fetch serves
 * the frame from a replica instead of "healing" it back. The listings side by side say first which
 * copies exist: a frame a replica lacks is kept and queued to be copied, with no read.
 */
import { forEachConcurrent } from '../../core/concurrency.js'
import { ConfigError } from '../../core/errors.js'
import { syncCopy } from '../../core/durable-files.js'
import { failureFields } from '../../core/logger.js'
import type { AbortOptions } from '../../core/types.js'
import { keeper, type Keep } from '../retention/keep.js'
import { HOW, PRIMARY } from './ledger.js'
import { mergeListings } from './merge.js'
import type { Parts } from './parts.js'
import type { Replica } from './types.js'

export interface EvictOptions extends AbortOptions {
  /** Primary copies last stored longer ago than this many milliseconds go. */
  olderThan: number
  /** Replica copies verified in this operation that an eviction needs. Default 1. */
  minCopies?: number
  /** Objects never evicted: refs or a predicate (as prune's). */
  keep?: Keep
  /** Counts what would go, from the listings alone: reads nothing, deletes nothing. */
  dryRun?: boolean
  /** Objects verified at once. Default 4. */
  concurrency?: number
  now?: Date
  onProgress?: (report: EvictReport) => void
}

export interface EvictReport {
  examined: number
  evicted: number
  bytesFreed: number
  /** In a dry run: what would go (the copies are not read in a dry run). */
  wouldEvict?: number
  wouldFree?: number
  /** Younger than `olderThan`. */
  kept: number
  protected: number
  /** Stored again while the eviction ran: kept. */
  renewed: number
  /**
   * Fewer good replica copies than `minCopies` (missing, damaged, unreachable): kept, and queued to
   * be copied again.
   */
  unsafe: number
  /** The first unsafe objects and why. */
  unsafeObjects: Array<{ sha256: string; copies: Record<string, string> }>
  dryRun: boolean
  interrupted: boolean
}

type EvictParts = Pick<Parts, 'primary' | 'replicas' | 'outbox' | 'ledger'>

/** An old primary copy that no `keep` protects. */
interface Candidate {
  sha256: string
  size: number
  lastStoredAt: Date
  /** Per replica: whether its listing shows a copy of the right size. */
  listed: boolean[]
}

interface Pass {
  minCopies: number
  /** Per replica: whether its copies can prove a frame (proving). */
  provers: boolean[]
  dryRun: boolean
  signal?: AbortSignal
  report: EvictReport
}

export async function evict(parts: EvictParts, options: EvictOptions): Promise<EvictReport> {
  const minCopies = checked(parts, options)
  const isKept = await keeper(options.keep)
  const dryRun = options.dryRun === true
  const provers = await proving(parts, minCopies, options.signal)
  const pass: Pass = { minCopies, provers, dryRun, signal: options.signal, report: emptyReport(dryRun) }
  await forEachConcurrent(candidates(parts, options, isKept, pass.report), options.concurrency ?? 4, async c => {
    await evictOne(parts, c, pass)
    options.onProgress?.(pass.report)
  })
  pass.report.interrupted = options.signal?.aborted === true
  return pass.report
}

/** The options checked against the copies there are: `minCopies`, its default applied. */
function checked({ primary, replicas }: EvictParts, options: EvictOptions): number {
  if (!(options.olderThan >= 0)) throw new ConfigError('olderThan', 'expected milliseconds, 0 or more')
  if (primary.deleteIfNotRenewed === undefined)
    throw new ConfigError(
      'primary',
      'evict needs a primary that can delete a copy only if no store renewed it (deleteIfNotRenewed); ' +
        `the ${primary.driver} driver cannot`
    )
  const minCopies = options.minCopies ?? 1
  if (!(Number.isInteger(minCopies) && minCopies >= 1 && minCopies <= replicas.length))
    throw new ConfigError(
      'minCopies',
      minCopiesProblem(
        minCopies,
        replicas.map(r => r.name)
      )
    )
  return minCopies
}

function emptyReport(dryRun: boolean): EvictReport {
  return {
    examined: 0,
    evicted: 0,
    bytesFreed: 0,
    kept: 0,
    protected: 0,
    renewed: 0,
    unsafe: 0,
    unsafeObjects: [],
    dryRun,
    interrupted: false,
    ...(dryRun ? { wouldEvict: 0, wouldFree: 0 } : {})
  }
}

/** The primary's old frames no `keep` protects, from the listings side by side; the others counted. */
async function* candidates(
  { primary, replicas }: EvictParts,
  options: EvictOptions,
  isKept: Awaited<ReturnType<typeof keeper>>,
  report: EvictReport
): AsyncGenerator<Candidate> {
  const cutoff = (options.now ?? new Date()).getTime() - options.olderThan
  const listings = [primary, ...replicas.map(r => r.storage)].map(s => s.list({ signal: options.signal }))
  for await (const { sha256, entries } of mergeListings(listings)) {
    const [ours, ...theirs] = entries
    if (ours === undefined) continue // no primary copy to evict
    report.examined++
    const lastStoredAt = ours.lastStoredAt
    if (lastStoredAt === undefined || lastStoredAt.getTime() >= cutoff) report.kept++
    else if (await isKept({ hash: ours.hash, sha256, size: ours.size ?? 0, lastStoredAt })) report.protected++
    else
      yield {
        sha256,
        size: ours.size ?? 0,
        lastStoredAt,
        listed: theirs.map(copy => copy !== undefined && (copy.size === undefined || copy.size === ours.size))
      }
  }
}

/** One candidate: its replica copies proved, then its primary copy evicted (or counted as it would be). */
async function evictOne(parts: EvictParts, candidate: Candidate, pass: Pass): Promise<void> {
  const { sha256, size, lastStoredAt } = candidate
  const { report, dryRun } = pass
  const { good, copies } = await proveCopies(parts, candidate, pass)
  if (good < pass.minCopies) {
    report.unsafe++
    if (report.unsafeObjects.length < 100) report.unsafeObjects.push({ sha256, copies })
    if (!dryRun) await parts.outbox.add(sha256, Object.keys(copies))
  } else if (dryRun) {
    report.wouldEvict!++
    report.wouldFree! += size
  } else {
    // the mark is durable before the delete: a frame deleted without it would count as an extra copy, and the loss of
    // its last copy would go unreported (a mark left by a crash before the delete stays until the copy is stored again
    // or evicted again: at worst that copy, if lost, is read from a replica and not healed back, as evicted)
    const mark = { sha256, at: Date.now(), how: HOW.evicted, lastStoredAt: lastStoredAt.getTime(), size }
    if (size === 0) delete (mark as { size?: number }).size // not listed: unknown
    await parts.ledger.append(PRIMARY, [mark], { durable: true })
    if (await parts.primary.deleteIfNotRenewed!(sha256, lastStoredAt)) {
      report.evicted++
      report.bytesFreed += size
    } else {
      // durable too: a stale mark on a frame the primary holds would keep a later loss of that copy from being healed
      await parts.ledger.append(PRIMARY, [{ sha256, at: Date.now(), how: HOW.restored }], { durable: true })
      report.renewed++
    }
  }
}

/**
 * The replica copies that are good now: listed, and (unless a dry run) read back and hashed in
 * this same operation; `copies` says why each other one is not.
 */
async function proveCopies(
  { replicas, ledger }: EvictParts,
  { sha256, listed }: Candidate,
  { dryRun, signal, provers }: Pass
): Promise<{ good: number; copies: Record<string, string> }> {
  const copies: Record<string, string> = {}
  let good = 0
  for (const [i, replica] of replicas.entries()) {
    if (!listed[i]!) copies[replica.name] = 'missing'
    // its copies prove nothing (proving): not read, not queued
    else if (!provers[i]!) continue
    else if (dryRun) good++
    else {
      const failed = await proveCopy(replica, sha256, signal).then(
        () => undefined,
        (err: unknown) => failureFields(err).code
      )
      if (failed === undefined) {
        good++
        await ledger.append(replica.name, [{ sha256, at: Date.now(), how: HOW.rehash }])
      } else copies[replica.name] = failed
    }
  }
  return { good, copies }
}

/**
 * A replica copy proved in this same operation: read back and hashed (the replica's fetch checks the bytes), and on
 * a local disk made durable (its file and the folders that name it fsynced): a copy stored without fsync
 * (SAI_IMAGE_STORAGE_FSYNC=false) or by another writer may not be on the disk yet, and the primary's is about to go.
 */
async function proveCopy({ storage }: Replica, sha256: string, signal?: AbortSignal): Promise<void> {
  await storage.fetch(sha256, { signal })
  await syncCopy(storage, sha256)
}

/**
 * Whose copies can prove a frame: not a replica whose store says that what it acknowledges does not survive a power
 * cut (an IPFS node whose flatfs does not sync): a copy made a moment ago, before the cut, would be gone with the
 * primary's. A store that cannot tell (no `durability`, or it fails) is trusted, as its stores are.
 */
async function proving({ replicas }: EvictParts, minCopies: number, signal?: AbortSignal): Promise<boolean[]> {
  const unsafe: string[] = []
  const provers = await Promise.all(
    replicas.map(async ({ name, storage }) => {
      const found = await storage.durability?.({ signal }).catch(() => undefined)
      if (found?.powerCutSafe !== false) return true
      unsafe.push(`${name} would not keep its copies through a power cut${found.advice ? `: ${found.advice}` : ''}`)
      return false
    })
  )
  if (provers.filter(Boolean).length < minCopies)
    throw new ConfigError(
      'replicas',
      `evict counts a copy only on a replica that keeps it through a power cut, and needs ${minCopies}; ` +
        unsafe.join('; ')
    )
  return provers
}

/** What is wrong with `minCopies`, in words: the copies can only be on the replicas there are. */
export function minCopiesProblem(minCopies: number, replicas: string[]): string {
  const count = replicas.length === 1 ? 'there is one replica' : `there are ${replicas.length} replicas`
  const there = `${count} (${replicas.join(', ')})`
  const range = replicas.length === 1 ? '1' : `a whole number from 1 to ${replicas.length}`
  return `${JSON.stringify(minCopies)} replica copies cannot be proved: ${there}; expected ${range}`
}
