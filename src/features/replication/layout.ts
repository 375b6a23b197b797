/**
 * The layout of replication's state folder (`{primary root}/.replication` unless `stateDir` says
 * otherwise): every path in it is named here and nowhere else, as cacache's `content/path.js`
 * names its own. The modules that write a part of it are told its path by this one.
 *
 * ```text
 * outbox/<replica>/<sha256>   an object still to copy to the replica: an empty file (outbox.ts)
 * ledger/<copy>/<ab>.log      the ledger, a file per copy and first two hex digits (ledger.ts)
 * drain.lock                  the copier's lock, its temp and set-aside names beside it (lock.ts)
 * compaction.lock             the reconcile's ledger compaction's lock, the same kind (ledger.ts)
 * failing/<replica>.json      the replica the copier cannot reach, since when and why (copier.ts)
 * heals.log                   a line per heal of a primary copy (heal.ts)
 * losses.log                  a line per frame the copier found lost, for `status` until a scan counts it (known.ts)
 * reconcile.json              the last reconcile's report (reconcile.ts)
 * reconcile-below             the frames it found below their copies for a copy it queued (below.ts),
 *                             written as `reconcile-below.<pid>[.settle].tmp`, renamed over
 * below.lock                  held while reconcile-below and reconcile.json are written (below.ts)
 * verify.json                 the last whole verify's counts (verify.ts)
 * watch.json                  the watcher's health after each pass (watch.ts)
 * verify-<pid>-<ms>-<n>.tmp   a verify pass's findings, spilled, removed when it ends (spill.ts)
 * host-id                     this primary's identity, made once (owner.ts)
 * ```
 *
 * A file rewritten whole is written beside itself as `<name>.<pid>.<n>.tmp` and renamed over (records.ts); a ledger
 * file as `<ab>.log.<pid>.<random>.tmp`, removed by the next compaction if a crash left it, under its marker
 * `<ab>.log.compacting` (a lock file naming the compacting process, which durable appends wait out).
 */
import { join } from 'node:path'

export class StateLayout {
  constructor(
    /** The state folder itself. */
    readonly dir: string
  ) {}

  /** The outbox: a folder per replica. */
  get outbox(): string {
    return join(this.dir, 'outbox')
  }

  outboxFolder(replica: string): string {
    return join(this.outbox, replica)
  }

  outboxEntry(replica: string, sha256: string): string {
    return join(this.outbox, replica, sha256)
  }

  ledgerFolder(copy: string): string {
    return join(this.dir, 'ledger', copy)
  }

  /** One ledger file: `shard` is the first two hex digits of the hashes it holds. */
  ledgerShard(copy: string, shard: string): string {
    return join(this.ledgerFolder(copy), `${shard}.log`)
  }

  get drainLock(): string {
    return join(this.dir, 'drain.lock')
  }

  /** One reconcile's ledger compaction at a time (ledger.ts). */
  get compactionLock(): string {
    return join(this.dir, 'compaction.lock')
  }

  get failingFolder(): string {
    return join(this.dir, 'failing')
  }

  failing(replica: string): string {
    return join(this.failingFolder, `${replica}.json`)
  }

  get healsLog(): string {
    return join(this.dir, 'heals.log')
  }

  get lossesLog(): string {
    return join(this.dir, 'losses.log')
  }

  get reconcileReport(): string {
    return join(this.dir, 'reconcile.json')
  }

  /** The frames the last reconcile queued copies of, still below their wanted copies (below.ts). */
  get reconcileBelow(): string {
    return join(this.dir, 'reconcile-below')
  }

  /** Held by a reconcile writing its list and report, and by a settle rewriting them (below.ts). */
  get belowLock(): string {
    return join(this.dir, 'below.lock')
  }

  get verifyRecord(): string {
    return join(this.dir, 'verify.json')
  }

  get watchHealth(): string {
    return join(this.dir, 'watch.json')
  }

  /** This primary's identity, made once (owner.ts). */
  get hostId(): string {
    return join(this.dir, 'host-id')
  }

  /** A verify pass's `n`th spill file; `tag` tells passes apart (process and start). */
  spill(tag: string, n: number): string {
    return join(this.dir, `verify-${tag}-${n}.tmp`)
  }
}
