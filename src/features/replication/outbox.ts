/**
 * The outbox: what remains to copy, per replica, as one empty file per object,
 * `outbox/<replica>/<sha256>` in the state folder (layout.ts), made and fsynced (with its folder)
 * before `store` resolves.
 * Files need no log to rotate and no lock: any process adds, the same name twice is one entry,
 * and the copier removes it once the copy is verified. It is a shortcut, not the truth: a lost
 * outbox costs the reconcile's time (reconcile.ts finds what is missing), never a copy.
 */
import { existsSync, readdirSync, statSync, unlinkSync } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fsyncDir, SharedDirSync } from '../../core/durable-files.js'
import { isMissing, passThrough, StorageUnavailableError } from '../../core/errors.js'

type Errno = NodeJS.ErrnoException
import type { StateLayout } from './layout.js'

const SHA256 = /^[0-9a-f]{64}$/

export class Outbox {
  private readonly made = new Map<string, Promise<string>>()
  private readonly dirSync = new SharedDirSync()

  constructor(private readonly layout: StateLayout) {}

  /** Records that `sha256` must reach each replica; resolves once that record is durable. */
  async add(sha256: string, replicas: string[]): Promise<void> {
    try {
      await this.record(sha256, replicas)
    } catch (err) {
      // a full or failing state disk: the store is not acknowledged, and says where (never a bare OS error)
      throw passThrough(err) ?? StorageUnavailableError.fromSystemError(err as Errno, this.layout.dir, 'stateDir')
    }
  }

  private async record(sha256: string, replicas: string[]): Promise<void> {
    await Promise.all(
      replicas.map(async replica => {
        const folder = await this.folder(replica)
        const entry = this.layout.outboxEntry(replica, sha256)
        const file = await open(entry, 'a').catch(async (err: unknown) => {
          if (!isMissing(err)) throw err
          this.made.delete(folder) // removed under us (a bad restore): made again
          await this.folder(replica)
          return await open(entry, 'a')
        })
        await file.close()
        await this.dirSync.fsync(folder)
      })
    )
  }

  /**
   * The copy is verified: the entry goes (no fsync: an entry a crash brings back is copied again, harmlessly). A
   * metadata call, made synchronously as the ledger's plain append (ledger-files.ts), once per copy.
   */
  async done(replica: string, sha256: string): Promise<void> {
    try {
      unlinkSync(this.layout.outboxEntry(replica, sha256))
    } catch (err) {
      if (!isMissing(err)) throw err
    }
  }

  /** Whether `sha256` waits for `replica`. */
  has(replica: string, sha256: string): boolean {
    return existsSync(this.layout.outboxEntry(replica, sha256))
  }

  /** The objects waiting for `replica`, in SHA-256 order. */
  pending(replica: string): string[] {
    try {
      return readdirSync(this.layout.outboxFolder(replica))
        .filter(name => SHA256.test(name))
        .sort()
    } catch (err) {
      if (isMissing(err)) return []
      throw err
    }
  }

  /** How many wait, and since when the oldest. */
  backlog(replica: string): { pending: number; oldestPendingAt?: Date } {
    let oldest = Infinity
    const names = this.pending(replica)
    for (const name of names) {
      const stats = statSync(this.layout.outboxEntry(replica, name), { throwIfNoEntry: false })
      if (stats !== undefined && stats.mtimeMs < oldest) oldest = stats.mtimeMs
    }
    return { pending: names.length, oldestPendingAt: oldest === Infinity ? undefined : new Date(oldest) }
  }

  /** The replica's folder, made once, its name and its parents' made durable. */
  private async folder(replica: string): Promise<string> {
    const folder = this.layout.outboxFolder(replica)
    let made = this.made.get(folder)
    if (made === undefined) {
      made = mkdir(folder, { recursive: true }).then(async () => {
        // its name made durable, and its parents' up to the folder that holds the state
        for (let dir = folder; dir !== dirname(this.layout.dir); dir = dirname(dir)) await fsyncDir(dirname(dir))
        return folder
      })
      made.catch(() => this.made.delete(folder))
      this.made.set(folder, made)
    }
    return await made
  }
}
