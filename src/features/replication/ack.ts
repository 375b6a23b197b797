/**
 * `ack: 2`: a store resolves once one replica holds a verified copy too. The replicas are tried
 * in turn; none taking it within the timeout fails the store, its primary copy staying queued.
 */
import { StorageUnavailableError } from '../../core/errors.js'
import { HOW } from './ledger.js'
import type { Parts } from './parts.js'

export interface AckOptions {
  timeoutMs: number
  /** Whether the copier runs in the background here (it then copies to the other replicas). */
  background: boolean
  signal?: AbortSignal
}

export async function acknowledged(
  { primary, replicas, copier }: Pick<Parts, 'primary' | 'replicas' | 'copier'>,
  sha256: string,
  options: AckOptions
): Promise<void> {
  const { signal } = options
  const timeout = AbortSignal.timeout(options.timeoutMs)
  const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  const failures: string[] = []
  for (const replica of replicas) {
    try {
      if ((await copier.copy(replica, sha256, undefined, both)) === 'copied') {
        if (options.background) copier.kick() // the other replicas
        return
      }
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason
      failures.push(`${replica.name}: ${(err as Error).message}`)
    }
  }
  const why = failures.length === 0 ? 'the primary no longer holds it' : failures.join('; ')
  throw new StorageUnavailableError(
    `stored on the primary and queued for replication, but no replica acknowledged a copy (ack: 2): ${why}`,
    primary.pathOf(sha256)
  )
}

/**
 * Whether a replica holds a copy of `sha256` that was checked when it was made (acknowledged with its checksum, or
 * read back), and none is queued there: a duplicate store under `ack: 2` resolves at once only then. A copy only
 * listed, or queued (a store retried after its ack timed out), is none: the store waits for one as a new one does.
 */
export function copiedBefore(
  { outbox, ledger, replicas }: Pick<Parts, 'outbox' | 'ledger' | 'replicas'>,
  sha256: string
) {
  return replicas.some(({ name }) => {
    const how = ledger.lookup(name, sha256)?.how
    return (how === HOW.upload || how === HOW.rehash) && !outbox.has(name, sha256)
  })
}

/**
 * After a store, its copies: with `ack: 2`, waited for (a duplicate too, unless a replica's copy was checked: one
 * queued, or only listed, is none); else the background copier woken if anything was queued.
 */
export async function afterStore(
  parts: Pick<Parts, 'primary' | 'replicas' | 'copier' | 'outbox' | 'ledger'>,
  result: { sha256: string; isDuplicate: boolean },
  queued: string[],
  options: AckOptions & { ack?: 1 | 2 }
): Promise<void> {
  if (options.ack === 2 && !(result.isDuplicate && copiedBefore(parts, result.sha256)))
    await acknowledged(parts, result.sha256, options)
  else if (queued.length > 0 && options.background) parts.copier.kick()
}
