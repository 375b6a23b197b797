/**
 * Reading from the copies, with one policy for every read method of `ReplicatedStorage`:
 * - the primary is asked first; its `ERR_NOT_FOUND`, `ERR_INTEGRITY` and a failed read of the frame's own
 *   file (`ERR_STORAGE_UNAVAILABLE` naming it: EIO from a failing disk) mean "try a replica"; any other failure
 *   (a bad ref, an unmounted root) is the caller's answer;
 * - each replica in turn: `ERR_NOT_FOUND` means "not here" (quiet), any other failure is logged
 *   (`replication.replica-read-failed`) and the next replica is tried; a damaged copy is recorded so in the
 *   ledger (durably, as verify does), so that `status` reports it at once;
 * - no copy answered: a replica that could not be asked may hold a good copy: its error (unavailable); else a
 *   damaged copy anywhere makes it `ERR_INTEGRITY` (logged as `replication.no-good-copy`: the frame is lost
 *   unless an operator finds a copy), never "not found"; a frame the ledger knows a replica held (or evicted)
 *   whose replicas could not be reached is their error (unavailable); one no copy holds any more is lost
 *   (`replication.lost`); otherwise the primary's own error (its "not found" names the quarantine, if there).
 */
import { IntegrityError, NotFoundError } from '../../core/errors.js'
import { failureFields, log, type Logger } from '../../core/logger.js'
import type { ImageStorage } from '../../core/types.js'
import { seenOn } from './known.js'
import { HOW, type Ledger, PRIMARY } from './ledger.js'
import type { Replica } from './types.js'

/** The primary's failures that a replica's copy can answer: missing, damaged, or its own file unreadable. */
function replicaMayAnswer(err: unknown, sha256: string): boolean {
  const { code } = failureFields(err)
  if (code === 'ERR_NOT_FOUND' || code === 'ERR_INTEGRITY') return true
  return code === 'ERR_STORAGE_UNAVAILABLE' && String((err as { path?: unknown }).path ?? '').includes(sha256)
}

export interface CopyRead<T> {
  value: T
  /** `primary`, or the replica's name. */
  from: string
  /** Why the primary could not answer (its code), when a replica did. */
  primaryFailed?: string
}

/** A copy's answer: the value, or undefined for "this copy does not hold it". */
export type ReadCopy<T> = (storage: ImageStorage, copy: string) => Promise<T | undefined>

export class CopyReader {
  constructor(
    private readonly primary: ImageStorage,
    private readonly replicas: Replica[],
    private readonly ledger: Ledger,
    private readonly logger?: Logger
  ) {}

  /**
   * `read` on the primary, then on each replica where the primary's copy is missing or damaged;
   * undefined when every copy said it holds none (and none failed otherwise).
   */
  async read<T>(sha256: string, read: ReadCopy<T>, signal?: AbortSignal): Promise<CopyRead<T> | undefined> {
    let primaryError: unknown
    try {
      const value = await read(this.primary, PRIMARY)
      if (value !== undefined) return { value, from: PRIMARY }
    } catch (err) {
      if (!replicaMayAnswer(err, sha256)) throw err
      primaryError = err
    }
    const failures: Array<{ copy: string; err: unknown }> =
      primaryError === undefined ? [] : [{ copy: PRIMARY, err: primaryError }]
    for (const replica of this.replicas) {
      try {
        const value = await read(replica.storage, replica.name)
        if (value !== undefined)
          return {
            value,
            from: replica.name,
            primaryFailed: primaryError === undefined ? 'ERR_NOT_FOUND' : failureFields(primaryError).code
          }
      } catch (err) {
        if (signal?.aborted === true) throw err
        if (failureFields(err).code === 'ERR_NOT_FOUND') continue
        failures.push({ copy: replica.name, err })
        if (failureFields(err).code === 'ERR_INTEGRITY')
          await this.ledger
            .append(replica.name, [{ sha256, at: Date.now(), how: HOW.damaged }], { durable: true })
            .catch(() => undefined) // (the read goes on: the next verify records it)
        log(
          this.logger,
          'warn',
          { event: 'replication.replica-read-failed', replica: replica.name, sha256, ...failureFields(err) },
          `could not read ${sha256} from ${replica.name}: ${(err as Error).message}`
        )
      }
    }
    const codes = failures.map(f => failureFields(f.err).code)
    // a damaged copy, and a replica that could not be asked: it may hold a good one (unavailable, not lost)
    const unasked = failures.find((f, i) => f.copy !== PRIMARY && codes[i] !== 'ERR_INTEGRITY')
    if (codes.includes('ERR_INTEGRITY')) throw unasked?.err ?? this.noGoodCopy(sha256, failures)
    // the primary's own file unreadable, and no replica holds the frame: that error, not a loss (the file is there)
    if (primaryError !== undefined && codes[0] === 'ERR_STORAGE_UNAVAILABLE') throw primaryError
    // a replica that could not be asked may hold the only copy, of an evicted frame or of one the primary lost: that is
    // the answer when the ledger says the replica held it (a frame never stored stays "not found" during an outage)
    const own = this.ledger.lookup(PRIMARY, sha256)?.how
    const evicted = own === HOW.evicted
    const heldBy = this.replicas.filter(r => seenOn(this.ledger, r.name, sha256) !== undefined).map(r => r.name)
    const unreachable = failures.find(f => f.copy !== PRIMARY && (evicted || heldBy.includes(f.copy)))
    if (unreachable !== undefined) throw unreachable.err
    const known = evicted
      ? 'evicted from the primary'
      : heldBy.length > 0
        ? `once held by ${heldBy.join(', ')}`
        : own === HOW.lost
          ? 'its primary copy gone before any copy of it was made'
          : undefined
    if (primaryError !== undefined && known !== undefined) throw this.lost(sha256, primaryError, known)
    if (primaryError !== undefined) throw primaryError
    return undefined
  }

  /**
   * A frame the ledger knows (evicted, once held by a replica, or lost before any copy) that no copy holds: lost,
   * and said so (still "not found", exit 1), and logged.
   */
  private lost(sha256: string, primaryError: unknown, known: string): NotFoundError {
    const hint =
      `${known}, and no copy holds it any more: the frame is LOST ` +
      '(`sai-images whereis` shows every copy; restore it from a backup, ' +
      'or `sai-images delete` it to stop reporting the loss)'
    const err = new NotFoundError(sha256, (primaryError as { path?: string }).path, hint)
    log(this.logger, 'error', { event: 'replication.lost', sha256 }, err.message)
    return err
  }

  /** As `read`, for a value every caller needs: a frame no copy holds is the primary's "not found". */
  async need<T>(sha256: string, read: ReadCopy<T>, signal?: AbortSignal): Promise<CopyRead<T>> {
    const found = await this.read(sha256, read, signal)
    if (found === undefined) throw new Error(`no copy of ${sha256} holds it, and the primary gave no reason`)
    return found
  }

  /** A damaged copy and no good one: the frame is lost (see the module's comment). */
  private noGoodCopy(sha256: string, failures: Array<{ copy: string; err: unknown }>): IntegrityError {
    const first = failures.find(f => failureFields(f.err).code === 'ERR_INTEGRITY')!.err as Partial<IntegrityError>
    const copies = failures.map(f => `${f.copy} ${failureFields(f.err).code}`).join(', ')
    const hint =
      `no good copy of ${sha256} is left (${copies}); ` +
      'run `sai-images whereis` and `sai-images verify` to see every copy, ' +
      'and restore the frame from a backup if none is good'
    const err = new IntegrityError(sha256, first.actual ?? 'unknown', first.path, hint)
    log(this.logger, 'error', { event: 'replication.no-good-copy', sha256, copies }, err.message)
    return err
  }
}
