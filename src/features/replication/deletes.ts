/**
 * Deleting a frame from a replicated store: every copy goes, and the ledger and the outbox forget
 * it, so that no copy is made again and no record counts it as lost. The ledger's records of a
 * replica's copy are how a frame that every copy lost is still reported (known.ts), so a
 * delete's records are durable: the primary's `gone` before any copy goes (a power cut mid-delete
 * leaves a frame deleted on purpose, never a lost one), the replicas' before the delete resolves.
 */
import type { AbortOptions, ImageStorage } from '../../core/types.js'
import { knows } from './known.js'
import { HOW, type Ledger, PRIMARY } from './ledger.js'
import type { Parts } from './parts.js'

type DeleteParts = Pick<Parts, 'primary' | 'replicas' | 'outbox' | 'ledger' | 'copier' | 'healer'>

/**
 * Deletes every copy; true if any copy was there, or if the ledger knew the frame (`knows`): a lost frame's delete
 * is how its loss stops being reported.
 */
export async function deleteEverywhere(parts: DeleteParts, sha256: string, options: AbortOptions): Promise<boolean> {
  const { ledger, replicas } = parts
  const known = knows(ledger, sha256, replicas)
  await intend(parts, sha256)
  const copies = [parts.primary, ...replicas.map(r => r.storage)]
  const deleted = await Promise.all(copies.map(async storage => await storage.delete(sha256, options)))
  await forget(parts, sha256)
  await keepIfStoredAgain(parts, sha256, options)
  return deleted.some(Boolean) || known
}

/**
 * Deletes every copy, unless a store renewed the object after `lastStoredAt`: the primary decides
 * (its copy deleted only if not renewed); once it has no copy, the replicas' go too.
 */
export async function deleteIfNotRenewed(
  parts: DeleteParts,
  sha256: string,
  lastStoredAt: Date,
  options: AbortOptions
): Promise<boolean> {
  const { primary, replicas } = parts
  const queued = await intend(parts, sha256)
  const deleted =
    primary.deleteIfNotRenewed === undefined
      ? await primary.delete(sha256, options)
      : await primary.deleteIfNotRenewed(sha256, lastStoredAt, options)
  if (!deleted && (await primary.exists(sha256, options))) {
    // stored again: it stays everywhere, the intent withdrawn, and the copies it was waiting for queued again
    await withdraw(parts, sha256, queued)
    return false
  }
  const removed = await Promise.all(replicas.map(async r => await r.storage.delete(sha256, options)))
  await forget(parts, sha256)
  await keepIfStoredAgain(parts, sha256, options)
  return deleted || removed.some(Boolean)
}

/**
 * A store of the same bytes that came while the copies went (its new primary copy made after the primary's delete,
 * its outbox entry gone with `forget`): the frame was acknowledged, so it stays, and is queued for every replica.
 */
async function keepIfStoredAgain(parts: DeleteParts, sha256: string, options: AbortOptions): Promise<void> {
  if (await parts.primary.exists(sha256, options))
    await withdraw(
      parts,
      sha256,
      parts.replicas.map(r => r.name)
    )
}

/** The intent withdrawn, durably (else a cut leaves the frame deleted on purpose), and `names` queued again. */
async function withdraw({ ledger, outbox }: DeleteParts, sha256: string, names: string[]): Promise<void> {
  await ledger.append(PRIMARY, [{ sha256, at: Date.now(), how: HOW.restored }], { durable: true })
  if (names.length > 0) await outbox.add(sha256, names)
}

/**
 * The primary's record that `sha256` is being deleted on purpose, durable before any copy goes; then no copy (or
 * heal) of it is started (its outbox entries go), and those under way are waited for: one that ended after the
 * replica's delete would bring the frame back there (a store's background copy, then an at once delete). The
 * replicas whose entry went, for a withdrawal.
 */
async function intend({ ledger, replicas, outbox, copier, healer }: DeleteParts, sha256: string): Promise<string[]> {
  await ledger.append(PRIMARY, [{ sha256, at: Date.now(), how: HOW.gone }], { durable: true })
  // a read's heal that began before the record writes its copy back before any copy goes (a later one sees `gone`)
  await healer.settled(sha256)
  const queued = replicas.map(r => r.name).filter(name => outbox.has(name, sha256))
  await Promise.all(replicas.map(async r => await outbox.done(r.name, sha256)))
  await copier.settled(sha256)
  return queued
}

/** The ledger and the outbox forget an object deleted on purpose. */
async function forget({ replicas, outbox, ledger }: DeleteParts, sha256: string): Promise<void> {
  const at = Date.now()
  await Promise.all(
    replicas.map(async r => {
      await outbox.done(r.name, sha256)
      await ledger.append(r.name, [{ sha256, at, how: HOW.gone }], { durable: true })
    })
  )
}

/**
 * Whether a copy just made (and recorded) of `sha256` raced a delete by another process (its `gone`, then the
 * primary's copy gone; `copier.settled` waits for this process's copies only). The copier then records the replica's
 * copy gone after its upload, so that it counts as one the delete did not reach (reconcile.ts), never as the store's,
 * which a read would heal back. Checked after the upload record: a delete that ran whole before it wrote its own
 * `gone` earlier. A renewal (a prune that found the frame stored again) looks the same for a moment: its withdrawal
 * queues the copy again.
 */
export async function deletedMeanwhile(primary: ImageStorage, ledger: Ledger, sha256: string): Promise<boolean> {
  return !(await primary.exists(sha256)) && ledger.lookup(PRIMARY, sha256)?.how === HOW.gone
}
