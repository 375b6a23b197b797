/**
 * What a reconcile found below the wanted copies, kept true after the copies it asked for. A frame
 * a replica lacks, the primary holding it, is queued by the pass, which names it in
 * `reconcile-below` (layout.ts: `<sha256> <replica>,<replica>` lines), written before
 * `reconcile.json`. Once the copier has verified those copies (their outbox entries
 * gone), `settleBelow` strikes the frame off: `status` and the `below_wanted_copies` gauge say what
 * is still below after the drain, not what the scan found before it (a monitor paged for a day).
 */
import { once } from 'node:events'
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { finished } from 'node:stream/promises'
import { createInterface } from 'node:readline'
import { setTimeout as delay } from 'node:timers/promises'
import { isMissing } from '../../core/errors.js'
import { failureFields, log } from '../../core/logger.js'
import type { StateLayout } from './layout.js'
import { lostSince, RecordsInOrder } from './known.js'
import { DrainLock } from './lock.js'
import type { Parts } from './parts.js'
import { placeDurably, readRecord, writeRecord } from './records.js'
import type { ReconcileReport } from './types.js'

/**
 * How often a writer of the list and the record looks again at the lock another process holds, and for how long at
 * most: a reconcile a minute (then it writes all the same), a settle five seconds (then it is left to the next drain).
 */
const BELOW_WAIT_MS = 50
const RECONCILE_WAIT_MS = 60_000
const SETTLE_WAIT_MS = 5000

/** A pass's list of the frames below their copies for a copy it queued: written as it goes, in place at its end. */
export class QueuedBelow {
  private readonly temp: string
  private readonly file: WriteStream

  constructor(private readonly layout: StateLayout) {
    mkdirSync(layout.dir, { recursive: true })
    this.temp = `${layout.reconcileBelow}.${process.pid}.tmp`
    this.file = createWriteStream(this.temp)
    this.file.on('error', () => {}) // a full state disk: thrown by close() (finished), never an unhandled event
  }

  async add(sha256: string, replicas: string[]): Promise<void> {
    if (!this.file.write(`${sha256} ${replicas.join(',')}\n`)) await once(this.file, 'drain')
  }

  /**
   * The pass ended: its list replaces the last one, then `report` the last record, under the lock a settle holds
   * while it rewrites them (else a settle that read the last pass's record could write it back over this one's,
   * and a loss this pass found would go unsaid until the next pass).
   */
  async close(report: ReconcileReport): Promise<void> {
    this.file.end()
    await finished(this.file)
    // (a holder stuck for a minute, alive: the pass's record is written all the same, never lost waiting)
    await holdingBelow(this.layout, RECONCILE_WAIT_MS, true, async () => {
      // durable before the record that counts it is (a power cut must not leave reconcile.json beside a list lost)
      await placeDurably(this.temp, this.layout.reconcileBelow)
      await writeRecord(this.layout.reconcileReport, report)
    })
  }

  /** The pass failed: its list goes. */
  async abandon(): Promise<void> {
    this.file.destroy()
    await rm(this.temp, { force: true })
  }
}

/**
 * As `settleBelow`; a failure is logged, not thrown: the count is a report, the drain or reconcile stands. False if
 * it did not run (failed, or the lock held elsewhere): to try again.
 */
export async function settle(parts: Pick<Parts, 'layout' | 'outbox' | 'ledger' | 'logger'>): Promise<boolean> {
  return await settleBelow(parts).catch((err: unknown) => {
    const message = `replication: could not update the count of frames below their copies: ${(err as Error).message}`
    log(parts.logger, 'warn', { event: 'replication.settle-failed', ...failureFields(err) }, message)
    return false
  })
}

/**
 * Strikes off the listed frames whose queued copies are all verified now (none left in the outbox),
 * and rewrites the record's counts: `belowWantedCopies` less them, `copiedSince` more. A frame whose
 * entries went with no copy made (the copier found it lost, or gone while another replica holds it: known.ts) stays.
 */
export async function settleBelow(parts: Pick<Parts, 'layout' | 'outbox' | 'ledger'>): Promise<boolean> {
  return await holdingBelow(parts.layout, SETTLE_WAIT_MS, false, async () => {
    await settleHeld(parts)
  })
}

/** Per lock file, the last of this process's writers of the list and the record: each waits for the one before. */
const writers = new Map<string, Promise<unknown>>()

/**
 * `work` under the lock of the list and the record: a reconcile writing both, or a settle rewriting them, waits for
 * the other (each holds it for a moment: one list read, two files placed). Within a process, in turn; across
 * processes, by the lock file (this process's own, left by a release that failed, is no one else's). After `waitMs`
 * of another live process holding it, `anyway` does the work without the lock; else it is not done (false).
 */
async function holdingBelow(
  layout: StateLayout,
  waitMs: number,
  anyway: boolean,
  work: () => Promise<void>
): Promise<boolean> {
  const path = layout.belowLock
  const turn = (writers.get(path) ?? Promise.resolve()).then(async () => {
    const lock = new DrainLock(path)
    let held = false
    for (const until = Date.now() + waitMs; !(held = await lock.acquire()) && Date.now() < until; )
      await delay(BELOW_WAIT_MS)
    if (!held && !anyway) return false
    try {
      await work()
      return true
    } finally {
      if (held) await lock.release()
    }
  })
  writers.set(
    path,
    turn.catch(() => {})
  )
  return await turn
}

async function settleHeld({ layout, outbox, ledger }: Pick<Parts, 'layout' | 'outbox' | 'ledger'>): Promise<void> {
  const record = readRecord<ReconcileReport>(layout.reconcileReport)
  if (record === undefined || record.belowWantedCopies === 0) return
  const temp = `${layout.reconcileBelow}.${process.pid}.settle.tmp`
  const kept = createWriteStream(temp)
  kept.on('error', () => {}) // thrown by finished()
  let [listed, still] = [0, 0]
  const lost = lostSince({ layout, ledger }, new Date(record.at).getTime()) // entries gone with no copy made
  const records = new RecordsInOrder(ledger)
  try {
    const lines = createInterface({ input: createReadStream(layout.reconcileBelow), crlfDelay: Infinity })
    for await (const line of lines) {
      const [sha256, names] = line.split(' ')
      if (sha256 === undefined || names === undefined) continue
      listed++
      const queued = names.split(',')
      // struck off once each copy it lacked is made: not when an entry went with no copy made (the copier found the
      // frame lost, or gone from the primary while another replica holds it)
      const made = queued.every(copy => !outbox.has(copy, sha256) && records.heldOrGone(copy, sha256))
      if (made && !lost.has(sha256)) continue
      still++
      if (!kept.write(`${line}\n`)) await once(kept, 'drain')
    }
    kept.end()
    await finished(kept)
  } catch (err) {
    kept.destroy()
    await rm(temp, { force: true })
    if (isMissing(err)) return // the list went (a state folder cleaned by hand): the next reconcile counts again
    throw err
  }
  // nothing copied since, or a reconcile ended meanwhile (its record and its list stay)
  if (still === listed || readRecord<ReconcileReport>(layout.reconcileReport)?.at !== record.at)
    return await rm(temp, { force: true })
  await placeDurably(temp, layout.reconcileBelow)
  const copied = listed - still
  await writeRecord(layout.reconcileReport, {
    ...record,
    belowWantedCopies: Math.max(0, record.belowWantedCopies - copied),
    copiedSince: (record.copiedSince ?? 0) + copied
  })
}

/** Settles after a drain only once copies were made in this process: a watcher's drain each second reads no list. */
export class BelowSettler {
  private copied = false

  constructor(private readonly parts: Pick<Parts, 'layout' | 'outbox' | 'ledger' | 'copier' | 'logger'>) {
    parts.copier.copied.add(() => {
      this.copied = true
    })
  }

  async afterCopies(): Promise<void> {
    if (!this.copied) return
    this.copied = false
    if (!(await settle(this.parts))) this.copied = true // left: after the next drain, copies or none
  }
}
