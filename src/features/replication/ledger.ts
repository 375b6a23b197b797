/**
 * The ledger: for each object and copy, when it was last verified and how. `upload` (the replica
 * acknowledged the bytes with a checksum), `rehash` (read back and hashed), `listed` (its listing
 * showed it, of the right size), `gone` (deleted on purpose), `damaged` (read back and found
 * damaged); for the primary's copy, `evicted` (deleted on purpose, the frame living on in the
 * replicas; with its last store), `restored` and `lost` (gone before any copy was made).
 *
 * One text file per copy and first two hex digits, `ledger/<copy>/<ab>.log` (layout.ts), a line a
 * record: `<sha256> <ms> <how> [<last stored ms>]`, the last line for a hash winning. Any process
 * appends (a line is one write); the reconcile rewrites each file compacted. A record lost to a
 * crash costs a verification, never a copy: the ledger is a shortcut for whereis, status and
 * retention, not the truth.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fsyncDir } from '../../core/durable-files.js'
import { isMissing } from '../../core/errors.js'
import type { StateLayout } from './layout.js'
import { appendLines, removeTemps, rewriteFile } from './ledger-files.js'
import { DrainLock } from './lock.js'

/** The ledger's name for the primary's copy (a replica's is its own name, which is never this). */
export const PRIMARY = 'primary'

/** How a copy was last seen: the ledger's words, written only through these names. */
export const HOW = {
  /** The replica acknowledged the bytes with a checksum (copier.ts). */
  upload: 'upload',
  /** Read back and hashed (evict.ts, verify.ts). */
  rehash: 'rehash',
  /** Its listing showed it, of the right size (reconcile.ts). */
  listed: 'listed',
  /** Deleted on purpose. */
  gone: 'gone',
  /** The primary's copy, deleted on purpose: the frame lives on in the replicas (evict.ts). */
  evicted: 'evicted',
  /** The primary's copy, stored again. */
  restored: 'restored',
  /** The primary's copy, gone before any copy of it was made (copier.ts): the frame is lost. */
  lost: 'lost',
  /**
   * Read back and found damaged (verify.ts): no good copy until it is uploaded or read back whole again, whatever
   * its listing says (a flipped byte keeps the size), so that a pass that does not re-read it still counts it.
   */
  damaged: 'damaged'
} as const

export type How = (typeof HOW)[keyof typeof HOW]

/** The records that say a copy was verified. */
export const VERIFIED: ReadonlySet<How> = new Set([HOW.upload, HOW.rehash, HOW.listed])

export interface LedgerRecord {
  sha256: string
  at: number
  how: How
  /** For `evicted`: the primary copy's last store. */
  lastStoredAt?: number
  /** For `evicted`: the primary copy's size (a replica copy listed at another size is no copy of it). */
  size?: number
}

export class Ledger {
  /** Folders made (or found) by this process; `durably`: with every new level's parent fsynced. */
  private readonly made = { plainly: new Set<string>(), durably: new Set<string>() }
  private compacting = false

  constructor(private readonly layout: StateLayout) {}

  /**
   * One compaction (a reconcile's `rewrite`s) at a time per state folder: a file lock of this ledger's own, which
   * another process and another ledger in this one find held, and a flag for this one. Two at once could each
   * rewrite a file from what they read, and the later one drop a mark appended after the earlier one's rename.
   * Resolves to the release, or undefined if another compaction runs.
   */
  async lockCompaction(): Promise<(() => Promise<void>) | undefined> {
    if (this.compacting) return undefined
    this.compacting = true
    const lock = new DrainLock(this.layout.compactionLock, { perHolder: true })
    const held = await lock.acquire().catch(() => false)
    if (!held) {
      this.compacting = false
      return undefined
    }
    await removeTemps(dirname(this.layout.ledgerFolder(PRIMARY))).catch(() => {}) // a leftover costs a file only
    return async () => {
      await lock.release()
      this.compacting = false
    }
  }

  /**
   * Appends `records`, a line each. `durable`: fsynced (with the folders when new) before it resolves, into the
   * file a reconcile's compaction of it leaves (see `rewrite`): for an `evicted` mark, the only record whose loss
   * would hide a loss.
   */
  async append(copy: string, records: LedgerRecord[], options: { durable?: boolean } = {}): Promise<void> {
    const byShard = new Map<string, string>()
    for (const r of records) byShard.set(r.sha256.slice(0, 2), (byShard.get(r.sha256.slice(0, 2)) ?? '') + line(r))
    await this.folder(copy, options.durable === true)
    await Promise.all(
      [...byShard].map(async ([shard, text]) => {
        await appendLines(this.layout.ledgerShard(copy, shard), text, options.durable === true)
      })
    )
  }

  /** Makes `copy`'s folder; `durable`: each level it made, and the ledger folder, fsynced in their parents. */
  private async folder(copy: string, durable: boolean): Promise<void> {
    const folder = this.layout.ledgerFolder(copy)
    if (this.made[durable ? 'durably' : 'plainly'].has(folder)) return
    await mkdir(folder, { recursive: true })
    if (durable) {
      await fsyncDir(dirname(folder)) // <state>/ledger: the copy's folder in it
      await fsyncDir(dirname(dirname(folder))) // <state>: the ledger folder in it
      this.made.durably.add(folder)
    }
    this.made.plainly.add(folder)
  }

  /** The last record of `sha256` for `copy`. */
  lookup(copy: string, sha256: string): LedgerRecord | undefined {
    return this.shard(copy, sha256.slice(0, 2)).get(sha256)
  }

  /** Whether the primary's copy of `sha256` was evicted on purpose (and not stored again since). */
  isEvicted(sha256: string): boolean {
    return this.lookup(PRIMARY, sha256)?.how === HOW.evicted
  }

  /** Every hash's last record in one shard file (a 256th of the store: bounded memory). */
  shard(copy: string, shard: string): Map<string, LedgerRecord> {
    return this.shardRead(copy, shard).records
  }

  /** The same, with the bytes read (a reconcile's rewrite keeps what was appended after them). */
  shardRead(copy: string, shard: string): { records: Map<string, LedgerRecord>; length: number } {
    const text = this.shardText(copy, shard)
    const records = new Map<string, LedgerRecord>()
    for (const row of text.split('\n')) {
      const record = parse(row)
      if (record !== undefined) records.set(record.sha256, record)
    }
    return { records, length: Buffer.byteLength(text) }
  }

  /** One shard file's text, to look hashes up in with `lastRecord` without parsing every line. */
  shardText(copy: string, shard: string): string {
    const path = this.layout.ledgerShard(copy, shard)
    // most of a small store's 256 shards have no file: a read that throws ENOENT costs ten times this look
    if (!existsSync(path)) return ''
    try {
      return readFileSync(path, 'utf8')
    } catch (err) {
      if (isMissing(err)) return ''
      throw err
    }
  }

  /**
   * Rewrites a shard file with only `records` (the reconcile's compaction, under `lockCompaction`), which the
   * caller chose from the file's first `since` bytes; the lines appended after those, by any process while the
   * pass went on, are kept (ledger-files.ts). Every file is replaced durably, and a durable append waits the
   * rewrite out: the primary's holds the eviction marks, a replica's the only records of some losses (a frame
   * gone from every copy is known by its replica record; a damaged copy by its `damaged` one), which must outlive
   * a power cut as their appends did. A rewritten file's data lost while its rename survived would clear a loss.
   */
  async rewrite(copy: string, shard: string, records: Iterable<LedgerRecord>, since: number): Promise<void> {
    const path = this.layout.ledgerShard(copy, shard)
    await mkdir(dirname(path), { recursive: true }) // (a ledger folder removed by hand is made again)
    await this.folder(copy, true)
    let text = ''
    for (const record of records) text += line(record)
    await rewriteFile(path, text, since)
  }
}

/** The last record of `sha256` in a shard file's `text` (as `shard()` would have it), found from the end. */
export function lastRecord(text: string, sha256: string): LedgerRecord | undefined {
  for (let at = text.lastIndexOf(sha256); at !== -1; at = at === 0 ? -1 : text.lastIndexOf(sha256, at - 1)) {
    if (at > 0 && text[at - 1] !== '\n') continue // not at a line's start
    const end = text.indexOf('\n', at)
    const record = parse(text.slice(at, end === -1 ? undefined : end))
    if (record !== undefined) return record // else a torn line: the one before counts
  }
  return undefined
}

const HOWS: ReadonlySet<string> = new Set(Object.values(HOW))
const RECORD = /^[0-9a-f]{64} \d+ [a-z]+( -?\d+( \d+)?)?$/

/** A line's record; undefined for anything else: a torn line, or one a torn line ran into (never a junk `how`). */
function parse(row: string): LedgerRecord | undefined {
  if (!RECORD.test(row)) return undefined
  const [sha256, at, how, lastStoredAt, size] = row.split(' ') as [string, string, string, string?, string?]
  if (!HOWS.has(how)) return undefined
  return {
    sha256,
    at: Number(at),
    how: how as How,
    lastStoredAt: lastStoredAt === undefined ? undefined : Number(lastStoredAt),
    ...(size === undefined ? {} : { size: Number(size) })
  }
}

function line(r: LedgerRecord): string {
  const size = r.size === undefined ? '' : ` ${r.size}`
  return `${r.sha256} ${r.at} ${r.how}${r.lastStoredAt === undefined ? '' : ` ${r.lastStoredAt}${size}`}\n`
}
