/**
 * Healing: a primary copy that is missing or damaged is read, verified, from a replica, and
 * written back through the primary's own durable store path, the damaged file quarantined first
 * (kept, never deleted unseen). Every heal is counted in `heals.log` (layout.ts), fsynced before the heal
 * returns, and told to the logger. The replica copy it came from was read and hashed: the ledger says so
 * (`rehash`), so the watcher and `status` do not take a restored frame for another writer's and copy it again.
 */
import { readFileSync } from 'node:fs'
import { KeyedLock } from '../../core/concurrency.js'
import { makeDirDurably } from '../../core/durable-files.js'
import { failureFields, log, type Logger } from '../../core/logger.js'
import { traced } from '../../core/tracing.js'
import type { ImageStorage } from '../../core/types.js'
import type { StateLayout } from './layout.js'
import { HOW, type Ledger, PRIMARY } from './ledger.js'
import { appendLines } from './ledger-files.js'

export class Healer {
  private readonly perObject = new KeyedLock()

  constructor(
    private readonly primary: ImageStorage,
    private readonly layout: StateLayout,
    private readonly ledger: Ledger,
    private readonly logger?: Logger
  ) {}

  /**
   * Writes `bytes` back to the primary (the damaged copy, if any, quarantined first); true once the
   * primary copy is whole again. A failure is logged, not thrown: the caller has the bytes. Not for a frame
   * evicted on purpose (a missing copy), nor one being (or that was) deleted: a heal in a delete's window, between
   * the primary's copy and the replicas', would bring the frame back. A copy another heal made whole meanwhile
   * (two reads of one damaged frame) stays as it is: quarantining it would count a heal twice.
   */
  async writeBack(sha256: string, bytes: Buffer, from: string, reason: string): Promise<boolean> {
    return await this.perObject.run(
      sha256,
      async () =>
        await traced(
          'heal',
          { driver: this.primary.driver, ref: sha256, summary: healed => ({ healed, from, reason }) },
          async () => {
            const own = this.ledger.lookup(PRIMARY, sha256)?.how
            if (own === HOW.gone || (reason === 'missing' && own === HOW.evicted)) return false
            // healed meanwhile (another read's heal): whole, and left as it is
            if ((await this.primary.fetch(sha256).catch(() => undefined)) !== undefined) return true
            try {
              await this.primary.quarantine?.add(sha256, 'healed')
              await this.primary.store(bytes, { allowNonImage: true })
            } catch (err) {
              log(
                this.logger,
                'error',
                { event: 'replication.heal-failed', sha256, from, ...failureFields(err) },
                `could not heal ${sha256} from ${from}: ${(err as Error).message}`
              )
              return false
            }
            // durably, as the heal itself: a heal reported done survives a power cut in `status` (test/crash); a
            // record that cannot be written (a full disk) is logged, and the read still has its verified bytes
            await this.record(sha256, from, reason).catch((err: unknown) =>
              log(
                this.logger,
                'error',
                { event: 'replication.heal-unrecorded', sha256, from, ...failureFields(err) },
                `healed ${sha256} from ${from}, but could not record it: ${(err as Error).message}`
              )
            )
            log(
              this.logger,
              'info',
              { event: 'replication.healed', sha256, from, reason },
              `healed ${sha256} (${reason}) from ${from}`
            )
            return true
          }
        )
    )
  }

  /** Once a heal of `sha256` under way (if any) has ended: a delete's, which must not be undone by one. */
  async settled(sha256: string): Promise<void> {
    await this.perObject.run(sha256, async () => {})
  }

  private async record(sha256: string, from: string, reason: string): Promise<void> {
    await makeDirDurably(this.layout.dir)
    await appendLines(this.layout.healsLog, `${Date.now()} ${sha256} ${from} ${reason}\n`, true)
    await this.ledger.append(from, [{ sha256, at: Date.now(), how: HOW.rehash }])
  }

  /** How many heals `heals.log` holds, and the last one's time. */
  counts(): { healed: number; lastAt?: Date } {
    let text = ''
    try {
      text = readFileSync(this.layout.healsLog, 'utf8')
    } catch {}
    // whole lines only: a power cut can leave a torn or zero-filled tail, no heal of its own
    const lines = text.split('\n').filter(line => /^\d+ [0-9a-f]{64} /.test(line))
    const last = lines.length === 0 ? undefined : Number(lines[lines.length - 1]!.split(' ')[0])
    return { healed: lines.length, lastAt: last === undefined ? undefined : new Date(last) }
  }
}
