/** What an operator asks of replication: where a frame's copies are, and how far behind each replica is. */
import { parseImageRef } from '../../core/ref.js'
import type { AbortOptions, ImageStorage } from '../../core/types.js'
import { lostSince } from './known.js'
import { HOW, type LedgerRecord, PRIMARY, VERIFIED } from './ledger.js'
import type { Parts } from './parts.js'
import { readRecord } from './records.js'
import type { CopyLocation, ReconcileReport, ReplicationStatus, VerifyRecord, Whereis } from './types.js'

export async function whereis(
  { primary, replicas, ledger }: Pick<Parts, 'primary' | 'replicas' | 'ledger'>,
  ref: string,
  options: AbortOptions = {}
): Promise<Whereis> {
  const { sha256 } = parseImageRef(ref)
  const locate = async (name: string, copy: ImageStorage, record?: LedgerRecord): Promise<CopyLocation> => {
    const stat = await copy.stat(sha256, options).catch((err: { code?: string }) => {
      if (err.code === 'ERR_NOT_FOUND') return undefined
      throw err
    })
    const location: CopyLocation = {
      name,
      present: stat !== undefined,
      size: stat?.size,
      lastStoredAt: stat?.lastStoredAt
    }
    if (record !== undefined && VERIFIED.has(record.how))
      Object.assign(location, { verifiedAt: new Date(record.at), how: record.how })
    if (stat !== undefined && record?.how === HOW.damaged) location.damagedAt = new Date(record.at)
    return location
  }
  const own = await locate(PRIMARY, primary)
  const mark = ledger.lookup(PRIMARY, sha256)
  if (!own.present && ledger.isEvicted(sha256)) own.evictedAt = new Date(mark!.at)
  // there, and recorded lost by the copier: damaged (a frame stored whole again is `restored` since)
  if (own.present && mark?.how === HOW.lost) own.damagedAt = new Date(mark.at)
  const theirs = await Promise.all(
    replicas.map(async r => await locate(r.name, r.storage, ledger.lookup(r.name, sha256)))
  )
  return { sha256, copies: [own, ...theirs] }
}

export function status(
  parts: Pick<Parts, 'replicas' | 'outbox' | 'copier' | 'healer' | 'layout' | 'ledger'>
): ReplicationStatus {
  const { replicas, outbox, copier, healer, layout } = parts
  const last = readRecord<ReconcileReport>(layout.reconcileReport)
  const verified = readRecord<VerifyRecord>(layout.verifyRecord)
  const scan = latestScan(last, verified)
  return {
    replicas: replicas.map(replica => ({
      name: replica.name,
      ...outbox.backlog(replica.name),
      lastReconcile: last?.replicas.find(r => r.name === replica.name),
      failing: copier.failingSince(replica.name) ?? failingOnDisk(parts, replica.name)
    })),
    lastReconcileAt: last === undefined ? undefined : new Date(last.at),
    lastVerifyAt: verified === undefined ? undefined : new Date(verified.at),
    belowWantedCopies: scan?.belowWantedCopies,
    ...(scan?.copiedSince === undefined || scan.copiedSince === 0 ? {} : { copiedSince: scan.copiedSince }),
    lost: scan?.lost,
    ...lostSinceField(parts, scan?.at),
    countedBy: scan?.by,
    heals: healer.counts()
  }
}

/** The counts of the latest whole scan: a reconcile (the listings) or a verify (the listings and the ledger). */
function latestScan(
  last: ReconcileReport | undefined,
  verified: VerifyRecord | undefined
):
  | { belowWantedCopies: number; copiedSince?: number; lost: number; by: 'verify' | 'reconcile'; at: number }
  | undefined {
  // the scan that began last (a reconcile's `at` is its start): a long verify ends after a reconcile it began before
  const verifyBegan = verified === undefined ? Number.NaN : Date.parse(verified.began ?? verified.at)
  if (verified !== undefined && (last === undefined || verifyBegan >= new Date(last.at).getTime()))
    return {
      belowWantedCopies: verified.belowWantedCopies,
      lost: verified.lost,
      by: 'verify',
      at: Date.parse(verified.began ?? verified.at)
    }
  if (last === undefined) return undefined
  const { belowWantedCopies, copiedSince, lost } = last
  return { belowWantedCopies, copiedSince, lost: lost ?? 0, by: 'reconcile', at: new Date(last.at).getTime() }
}

/** The frames the copier found lost since the latest scan began, still lost (known.ts: the next scan counts them). */
function lostSinceField(parts: Pick<Parts, 'layout' | 'ledger'>, scanAt = 0): { lostSince?: number } {
  const lost = lostSince(parts, scanAt)
  return lost.size === 0 ? {} : { lostSince: lost.size }
}

/** The failing state another process (the copier of `replicate --watch`) recorded. */
function failingOnDisk({ layout }: Pick<Parts, 'layout'>, name: string): { since: Date; code: string } | undefined {
  const state = readRecord<{ since: string; code: string }>(layout.failing(name))
  return state === undefined ? undefined : { since: new Date(state.since), code: state.code }
}
