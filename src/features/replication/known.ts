/**
 * What the ledger knows the store holds, beside what the copies list: a frame evicted from the
 * primary, one a replica was last seen holding (uploaded, read back or listed, and not deleted on
 * purpose since), and one whose primary copy was gone before any copy of it was made. A frame the
 * ledger knows and no copy lists is lost: `verify` and the reconcile merge `known` with the
 * listings, so that it is counted at every pass until it is stored again or deleted on purpose.
 */
import { readFileSync } from 'node:fs'
import { IntegrityError, isMissing } from '../../core/errors.js'
import { log, type Logger } from '../../core/logger.js'
import type { ImageEntry, ImageStorage } from '../../core/types.js'
import { HOW, type Ledger, type LedgerRecord, PRIMARY, VERIFIED } from './ledger.js'
import { appendLines } from './ledger-files.js'
import type { StateLayout } from './layout.js'

type Named = ReadonlyArray<{ name: string }>

/** A frame the ledger knows of: `evicted` from the primary on purpose, or not. */
export interface KnownEntry extends ImageEntry {
  evicted: boolean
}

/**
 * The frames the ledger knows, in SHA-256 order (after `after`, if given), a shard file at a time. A frame known
 * only by copies recorded at `since` or later (stored and copied during a whole pass) is left out: the pass's
 * listings may have gone past its folder before it came, and it would count as lost. The next pass judges it.
 */
export async function* known(
  ledger: Ledger,
  replicas: readonly string[],
  { after, since = Infinity }: { after?: string; since?: number } = {}
): AsyncGenerator<KnownEntry> {
  for (let i = 0; i < 256; i++) {
    const shard = i.toString(16).padStart(2, '0')
    if (after !== undefined && shard < after.slice(0, 2)) continue
    const own = ledger.shard(PRIMARY, shard)
    // an evicted frame's entry has the evicted copy's size, if its mark kept it
    const frames = new Map<string, { evicted: boolean; size?: number }>()
    for (const r of own.values())
      if (r.how === HOW.evicted || r.how === HOW.lost)
        frames.set(r.sha256, { evicted: r.how === HOW.evicted, size: r.size })
    for (const copy of replicas)
      for (const r of ledger.shard(copy, shard).values())
        if (!frames.has(r.sha256) && r.at < since && stillHeld(r, own.get(r.sha256)))
          frames.set(r.sha256, { evicted: false })
    for (const [sha256, { evicted, size }] of [...frames].sort(([a], [b]) => (a < b ? -1 : 1)))
      if (after === undefined || sha256 > after) yield { hash: sha256, sha256, key: sha256, path: '', evicted, size }
  }
}

/** Whether the ledger knows `sha256` (as `known` would list it), for the replicas named. */
export function knows(ledger: Ledger, sha256: string, replicas: Named): boolean {
  const how = ledger.lookup(PRIMARY, sha256)?.how
  return how === HOW.evicted || how === HOW.lost || replicas.some(r => seenOn(ledger, r.name, sha256) !== undefined)
}

/** `copy`'s record that it holds `sha256` (verified, and not deleted on purpose since), if it has one. */
export function seenOn(ledger: Ledger, copy: string, sha256: string): LedgerRecord | undefined {
  const record = ledger.lookup(copy, sha256)
  return record !== undefined && stillHeld(record, ledger.lookup(PRIMARY, sha256)) ? record : undefined
}

/**
 * The copier could not read the primary's copy of a queued frame (`err`); whether its outbox entry goes. Gone (not
 * found): deleted on purpose (a delete through the store records its `gone` first, durably), evicted, or held by
 * another replica (a read or a repair heals the primary from there): nothing to copy. Damaged, and held by another
 * replica: it stays (a read or a repair heals the primary, and the copy is made then). Else, gone or damaged, the
 * frame was lost before any copy of it was made (removed behind the store's back, a write cut short, a failing
 * disk): recorded `lost`, durably, and logged; the reconcile then counts a damaged copy as none (reconcile.ts).
 */
export async function sourceUnreadable(
  { ledger, replicas, logger, lossesLog }: { ledger: Ledger; replicas: Named; logger?: Logger; lossesLog?: string },
  sha256: string,
  err: unknown
): Promise<boolean> {
  const { code } = err as { code?: string }
  if (code !== 'ERR_NOT_FOUND' && code !== 'ERR_INTEGRITY') return false
  const own = ledger.lookup(PRIMARY, sha256)?.how
  if (own === HOW.lost) return true // recorded already
  if (own === HOW.evicted || replicas.some(r => seenOn(ledger, r.name, sha256) !== undefined))
    return code === 'ERR_NOT_FOUND'
  if (own === HOW.gone && code === 'ERR_NOT_FOUND') return true
  const at = Date.now()
  await ledger.append(PRIMARY, [{ sha256, at, how: HOW.lost }], { durable: true })
  // what `status` says until a scan counts it (a watcher's scan may be a day away)
  if (lossesLog !== undefined) await appendLines(lossesLog, `${at} ${sha256}\n`, true)
  const what = code === 'ERR_NOT_FOUND' ? 'gone from' : 'damaged on'
  log(
    logger,
    'error',
    { event: 'replication.lost', sha256 },
    `${sha256} is ${what} the primary before any copy of it was made: the frame is LOST ` +
      '(restore it from a backup, or `sai-images delete` it to stop reporting the loss)'
  )
  return true
}

/** How long after its last change a damaged primary copy may still be a frame being written (throwIfBeingWritten). */
const WRITING_MS = 60_000

/**
 * A damaged primary copy that changed less than `WRITING_MS` ago is taken as one another writer is still writing in
 * place (`cp`, `scp` or `curl -o` to the frame's own name; storage.py renames a whole file in), not as a loss: the
 * copy fails (thrown again, with the hint) and stays queued, tried at the next drain. Whole, it is copied; still
 * damaged `WRITING_MS` after its last change, it is recorded lost (sourceUnreadable).
 */
export async function throwIfBeingWritten(primary: ImageStorage, sha256: string, err: unknown): Promise<void> {
  if (!(err instanceof IntegrityError)) return
  const changed = (await primary.stat(sha256).catch(() => undefined))?.lastStoredAt?.getTime()
  const ago = Date.now() - (changed ?? Number.NEGATIVE_INFINITY)
  if (ago < WRITING_MS)
    throw new IntegrityError(err.expected, err.actual, err.path, `changed ${ago} ms ago: copied once it is whole`)
}

/**
 * Whether the frame was deleted on purpose (`own`, the primary's last record, is `gone`) and no copy's last record
 * (`copies`) says it was made or seen since: a copy a replica still lists is then one the delete did not reach (the
 * replica down, a power cut, a copy landing after it), not the store's (reconcile.ts).
 */
export function deletedAndLeft(
  own: LedgerRecord | undefined,
  copies: ReadonlyArray<LedgerRecord | undefined>
): own is LedgerRecord {
  return own?.how === HOW.gone && !copies.some(record => record !== undefined && stillHeld(record, own))
}

/**
 * Whether a replica's last record says it holds the frame: verified, and the primary's record (`own`) not a
 * delete on purpose since (one stopped before it reached the replica's record).
 */
function stillHeld(record: LedgerRecord, own: LedgerRecord | undefined): boolean {
  return VERIFIED.has(record.how) && !(own?.how === HOW.gone && own.at >= record.at)
}

/**
 * Each copy's last record of frames asked in SHA-256 order (a verify's scan, a reconcile's below-list): one shard
 * file of each copy read at a time, however many of its frames are asked.
 */
export class RecordsInOrder {
  private shard: string | undefined
  private readonly read = new Map<string, Map<string, LedgerRecord>>()

  constructor(private readonly ledger: Ledger) {}

  of(copy: string, sha256: string): LedgerRecord | undefined {
    const shard = sha256.slice(0, 2)
    if (shard !== this.shard) {
      this.shard = shard
      this.read.clear()
    }
    let records = this.read.get(copy)
    if (records === undefined) this.read.set(copy, (records = this.ledger.shard(copy, shard)))
    return records.get(sha256)
  }

  /**
   * Whether a read-back last found `copy`'s copy damaged: no good copy until it is uploaded or read back whole again,
   * though its listing shows it at the right size.
   */
  damaged(copy: string, sha256: string): boolean {
    return this.of(copy, sha256)?.how === HOW.damaged
  }

  /** `deletedAndLeft`, by these copies' records. */
  leftByDelete(copies: readonly string[], sha256: string): boolean {
    return deletedAndLeft(
      this.of(PRIMARY, sha256),
      copies.map(copy => this.of(copy, sha256))
    )
  }

  /** `seenOn`, or the frame deleted on purpose (the primary's `gone`): wanted no more. */
  heldOrGone(copy: string, sha256: string): boolean {
    const [record, own] = [this.of(copy, sha256), this.of(PRIMARY, sha256)]
    return own?.how === HOW.gone || (record !== undefined && stillHeld(record, own))
  }
}

/**
 * The frames the copier found lost (`losses.log`, written above) at or after `at`, still lost: not stored whole
 * again since. What `status` says until a scan counts them, and what a settle must not strike off as copied.
 */
export function lostSince({ layout, ledger }: { layout: StateLayout; ledger: Ledger }, at: number): Set<string> {
  const lost = new Set<string>()
  let text: string
  try {
    text = readFileSync(layout.lossesLog, 'utf8')
  } catch (err) {
    if (isMissing(err)) return lost
    throw err
  }
  const found = new Map<string, string[]>() // by shard: a shard file read once, however many of its frames were lost
  for (const line of text.split('\n')) {
    const [when, sha256] = line.split(' ')
    if (sha256 === undefined || !(Number(when) >= at)) continue
    const frames = found.get(sha256.slice(0, 2)) ?? []
    frames.push(sha256)
    found.set(sha256.slice(0, 2), frames)
  }
  for (const [shard, frames] of found) {
    const records = ledger.shard(PRIMARY, shard)
    for (const sha256 of frames) if (records.get(sha256)?.how === HOW.lost) lost.add(sha256)
  }
  return lost
}
