/**
 * `ack: 2`: a store resolves once one replica holds a verified copy too. The replicas are tried
 * in turn; none taking it within the timeout fails the store, its primary copy staying queued. A
 * replica whose store says that what it acknowledges does not survive a power cut (an IPFS node whose
 * flatfs does not sync) is no second copy: the frame would be lost with the primary in one cut.
 */
import { syncCopy } from '../../core/durable-files.js'
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
    const unsafe = await unsafeBecause(replica)
    if (unsafe !== undefined) {
      failures.push(unsafe)
      continue
    }
    try {
      if ((await copier.copy(replica, sha256, undefined, both)) === 'copied') {
        // a copy on a local disk stored without fsync (SAI_IMAGE_STORAGE_FSYNC=false) is made durable first, as an
        // eviction's proof is (evict.ts): the acknowledgement promises a second copy through a power cut
        await syncCopy(replica.storage, sha256)
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
  if (options.ack !== 2) {
    if (queued.length > 0 && options.background) parts.copier.kick()
    return
  }
  const unsafe = await Promise.all(parts.replicas.map(unsafeBecause))
  const safe = parts.replicas.filter((_, i) => unsafe[i] === undefined)
  if (!(result.isDuplicate && copiedBefore({ ...parts, replicas: safe }, result.sha256)))
    await acknowledged(parts, result.sha256, options)
}

/** Each replica store's answer, asked once per process: its node's settings do not change under it. */
const SAFETY = new WeakMap<object, Promise<string | undefined>>()

/** Why `replica` would not keep an acknowledged copy through a power cut (its store says so); else undefined. */
async function unsafeBecause({ name, storage }: Parts['replicas'][number]): Promise<string | undefined> {
  let answer = SAFETY.get(storage)
  if (answer === undefined) {
    // a store that cannot tell (no `durability`, or it fails) is trusted, as its stores are (evict.ts)
    answer = (storage.durability?.() ?? Promise.resolve(undefined)).then(
      found =>
        found?.powerCutSafe === false
          ? `${name} would not keep its copy through a power cut${found.advice ? `: ${found.advice}` : ''}`
          : undefined,
      () => {
        SAFETY.delete(storage) // asked again next time
        return undefined
      }
    )
    SAFETY.set(storage, answer)
  }
  return await answer
}
