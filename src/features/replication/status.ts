/** What an operator asks of replication: where a frame's copies are, and how far behind each replica is. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseImageRef } from '../../core/ref.js'
import type { AbortOptions } from '../../core/types.js'
import { PRIMARY, type LedgerRecord } from './ledger.js'
import type { ReplicatedStorage } from './storage.js'
import type { VerifyRecord } from './verify.js'
import type { CopyLocation, ReconcileReport, ReplicationStatus, Whereis } from './types.js'

export async function whereis(storage: ReplicatedStorage, ref: string, options: AbortOptions = {}): Promise<Whereis> {
  const { sha256 } = parseImageRef(ref)
  const { primary, replicas, parts } = storage
  const locate = async (
    name: string,
    copy: typeof primary,
    record: LedgerRecord | undefined
  ): Promise<CopyLocation> => {
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
    if (record?.how === 'upload' || record?.how === 'rehash' || record?.how === 'listed')
      Object.assign(location, { verifiedAt: new Date(record.at), how: record.how })
    return location
  }
  const mark = parts.ledger.lookup(PRIMARY, sha256)
  const own = await locate(PRIMARY, primary, undefined)
  if (!own.present && mark?.how === 'evicted') own.evictedAt = new Date(mark.at)
  return {
    sha256,
    copies: [
      own,
      ...(await Promise.all(
        replicas.map(async r => await locate(r.name, r.storage, parts.ledger.lookup(r.name, sha256)))
      ))
    ]
  }
}

export function status(storage: ReplicatedStorage): ReplicationStatus {
  const { replicas, parts } = storage
  const last = readJson<ReconcileReport>(join(parts.stateDir, 'reconcile.json'))
  const verified = readJson<VerifyRecord>(join(parts.stateDir, 'verify.json'))
  // the counts of the latest whole scan: a reconcile (the listings) or a verify (the listings and the ledger)
  const scan =
    verified !== undefined && (last === undefined || Date.parse(verified.at) >= new Date(last.at).getTime())
      ? {
          at: new Date(verified.at),
          belowWantedCopies: verified.belowWantedCopies,
          lost: verified.lost,
          by: 'verify' as const
        }
      : last === undefined
        ? undefined
        : {
            at: new Date(last.at),
            belowWantedCopies: last.belowWantedCopies,
            lost: last.lost ?? 0,
            by: 'reconcile' as const
          }
  return {
    replicas: replicas.map(replica => ({
      name: replica.name,
      ...parts.outbox.backlog(replica.name),
      lastReconcile: last?.replicas.find(r => r.name === replica.name),
      failing: parts.copier.failingSince(replica.name) ?? failingOnDisk(parts.stateDir, replica.name)
    })),
    lastReconcileAt: last === undefined ? undefined : new Date(last.at),
    lastVerifyAt: verified === undefined ? undefined : new Date(verified.at),
    belowWantedCopies: scan?.belowWantedCopies,
    lost: scan?.lost,
    countedBy: scan?.by,
    heals: parts.healer.counts()
  }
}

/** The failing state another process (the copier of `replicate --watch`) recorded. */
function failingOnDisk(stateDir: string, name: string): { since: Date; code: string } | undefined {
  const state = readJson<{ since: string; code: string }>(join(stateDir, 'failing', `${name}.json`))
  return state === undefined ? undefined : { since: new Date(state.since), code: state.code }
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch {
    return undefined
  }
}
