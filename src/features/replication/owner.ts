/**
 * One primary per replica. Replication treats a replica as this primary's copy: verify reports what
 * the primary lacks, a repair copies it onto the primary, a prune deletes the replica's copy with
 * the primary's. Two primaries on one replica would copy each other's frames onto their disks and
 * prune each other's evicted frames away, so sharing is refused. Each primary has an identity
 * (`{state}/host-id`, made once: a random id and the hostname); the first to write to a replica
 * leaves it there as the mark `owner.json` (created only if absent, on fs, S3 and IPFS alike); any other
 * primary gets `ERR_CONFIG` naming the owner at its first call that would write, before it writes.
 * A rebuilt host (a new state folder, so a new id) takes its replicas over explicitly (`takeOver`,
 * `sai-images take-over --from <old id>`), a compare-and-swap of the mark: of two take-overs at one
 * moment, one wins. Marks are kept on fs, S3 and IPFS replicas (on IPFS one per node, whatever the
 * index path: the node is the replica); a replica whose driver keeps none (memory) is not checked.
 * See docs/replication.md#one-primary-per-replica.
 */
import { untilAborted } from '../../core/concurrency.js'
import { ConfigError } from '../../core/errors.js'
import { readIdentity, readOrMakeIdentity, unmadeIdentity } from './host-id.js'
import { parseOwner, refusal, refused, TakeOverConflictError } from './owner-messages.js'
import { partsOf } from './parts.js'
import type { ReplicatedStorage } from './storage.js'
import type { Replica } from './types.js'

/** The replica's mark that names its primary. */
export const OWNER_MARK = 'owner.json'
/** A running primary reads the marks again after this long: a take-over elsewhere stops it within a minute. */
const RECHECK_MS = 60_000

/** This primary's identity, in its state folder. */
export interface HostIdentity {
  /** Random, made once per state folder. */
  id: string
  hostname: string
  /** The state folder: it tells two primaries on one host apart. */
  stateDir: string
  /** When the identity was made; in an owner mark, since when that host owns the replica. */
  since: string
  /** In a mark written by a take-over: whose the replica was. */
  takenOverFrom?: { id: string; hostname: string }
}

export interface ReplicaOwner {
  replica: string
  /** Where the mark is, safe to print. */
  location: string
  /**
   * `none`: no mark yet (a new replica, or one written by an older version or by migrate);
   * `unchecked`: a driver that keeps no marks (memory).
   */
  state: 'mine' | 'other' | 'none' | 'unchecked'
  owner?: HostIdentity
}

export class ReplicaOwnership {
  private me?: Promise<HostIdentity>
  /** Per replica: when its mark was last read as this primary's. */
  private readonly fresh = new Map<string, number>()
  private checking?: Promise<void>

  constructor(
    private readonly stateDir: string,
    private readonly replicas: Replica[]
  ) {}

  /** This primary's identity, made durably at its first use (a lost one would lock it out of its own replicas). */
  async identity(): Promise<HostIdentity> {
    this.me ??= readOrMakeIdentity(this.stateDir)
    this.me.catch(() => {
      this.me = undefined // a disk error: asked again next time
    })
    return await this.me
  }

  /**
   * Resolves if this primary owns every replica that keeps marks (or `replica`), marking those
   * nobody owns yet; `ERR_CONFIG` naming the owner otherwise, before anything of this primary's is
   * written there. A replica that cannot be reached is `ERR_STORAGE_UNAVAILABLE`, or with
   * `unreachableOk` (a store, which never fails for a replica that is down) skipped: the copier
   * asks again for that replica before it copies there. `readOnly`: writes nothing (a verify without repair: its
   * root may be no store).
   */
  async check(
    options: { replica?: string; unreachableOk?: boolean; readOnly?: boolean; signal?: AbortSignal } = {}
  ): Promise<void> {
    const { signal } = options
    if (options.readOnly === true) {
      const me = (await readIdentity(this.stateDir)) ?? unmadeIdentity(this.stateDir)
      for (const found of await Promise.all(this.replicas.map(async r => await this.ownerOf(r, me, signal))))
        if (found.state === 'other') throw refused(found, me)
      return
    }
    const due = (): Replica[] =>
      this.replicas.filter(
        r =>
          r.storage.marks !== undefined &&
          (options.replica === undefined || r.name === options.replica) &&
          !(Date.now() - (this.fresh.get(r.name) ?? Number.NEGATIVE_INFINITY) < RECHECK_MS)
      )
    if (due().length === 0) return
    if (options.replica !== undefined) return await this.claim(due(), options.unreachableOk === true, signal)
    // a caller that must know reads at once: a replica down costs one timeout, not two
    if (options.unreachableOk !== true && this.checking === undefined) return await this.claim(due(), false, signal)
    // one read for all callers, stopped by no one's signal; each stops waiting at its own (a SIGTERM at once)
    this.checking ??= this.claim(due(), true).finally(() => {
      this.checking = undefined
    })
    await untilAborted(this.checking, signal)
    if (options.unreachableOk !== true && due().length > 0) await this.claim(due(), false, signal)
  }

  /**
   * Whether another primary owns `replica` (its mark read; nothing written): a read served from it then heals
   * nothing, so that a host refused there never receives the owner's frames on its own disk.
   */
  async ownedByAnother(replica: string): Promise<boolean> {
    if (Date.now() - (this.fresh.get(replica) ?? Number.NEGATIVE_INFINITY) < RECHECK_MS) return false
    const found = this.replicas.find(r => r.name === replica)
    if (found?.storage.marks === undefined) return false
    return (await this.ownerOf(found, await this.identity())).state === 'other'
  }

  /** Who owns each replica now (nothing is written). */
  async owners(): Promise<ReplicaOwner[]> {
    const me = await this.identity()
    const read = await Promise.all(this.replicas.map(async replica => await this.ownerOf(replica, me)))
    return read.map(({ text: _, ...o }) => o)
  }

  /**
   * Makes this primary the owner of every replica that `from` (a host id) owns, and of those nobody
   * owns; the owners before, as they were. `ERR_CONFIG`, with nothing changed, if a replica belongs
   * to a host other than `from`. Each mark is swapped only if it is still the one read (a
   * compare-and-swap in the store: core/marks.ts), so of several take-overs at one moment exactly one
   * wins each replica; the others get `TakeOverConflictError` (`ERR_CONFIG`) naming the winner.
   */
  async takeOver(from: string): Promise<ReplicaOwner[]> {
    const me = await this.identity()
    const before = await Promise.all(this.replicas.map(async replica => await this.ownerOf(replica, me)))
    for (const o of before) {
      if (o.state !== 'other' || o.owner!.id === from) continue
      // another take-over from the same host, a moment earlier: the same race, lost
      if (o.owner!.takenOverFrom?.id === from) throw new TakeOverConflictError(o.replica, o.owner!, [], me, o.location)
      throw new ConfigError('--from', `${refusal(o, me)}; it is not ${from}'s: nothing was changed`)
    }
    const now = new Date().toISOString()
    const taken: string[] = []
    for (const { text, ...o } of before) {
      const marks = this.replicas.find(r => r.name === o.replica)!.storage.marks
      if (marks === undefined || o.state === 'mine') continue
      const taking = o.owner === undefined ? {} : { takenOverFrom: { id: o.owner.id, hostname: o.owner.hostname } }
      const mark = JSON.stringify({ ...me, since: now, ...taking })
      const won = o.state === 'other' ? await marks.swap(OWNER_MARK, text!, mark) : await marks.create(OWNER_MARK, mark)
      const winner = won ? undefined : parseOwner((await marks.read(OWNER_MARK)) ?? '', marks.location)
      if (winner !== undefined && winner.id !== me.id)
        throw new TakeOverConflictError(o.replica, winner, taken, me, marks.location)
      taken.push(o.replica)
    }
    this.fresh.clear()
    await this.check()
    return before.map(({ text: _, ...o }) => o)
  }

  private async ownerOf(
    { name, storage }: Replica,
    me: HostIdentity,
    signal?: AbortSignal
  ): Promise<ReplicaOwner & { text?: string }> {
    const marks = storage.marks
    if (marks === undefined) return { replica: name, location: storage.location ?? storage.driver, state: 'unchecked' }
    const text = await marks.read(OWNER_MARK, { signal })
    const owner = text === undefined ? undefined : parseOwner(text, marks.location)
    const state = owner === undefined ? 'none' : owner.id === me.id ? 'mine' : 'other'
    return { replica: name, location: marks.location, state, owner, text }
  }

  /** Reads every mark first, so that a refusal comes before any mark is written; then marks the unowned. */
  private async claim(replicas: Replica[], unreachableOk: boolean, signal?: AbortSignal): Promise<void> {
    const me = await this.identity()
    const read = await Promise.all(
      replicas.map(async replica => {
        try {
          return await this.ownerOf(replica, me, signal)
        } catch (err) {
          if (unreachableOk && (err as { code?: string }).code === 'ERR_STORAGE_UNAVAILABLE') return undefined
          throw err
        }
      })
    )
    const owners = read.filter(o => o !== undefined)
    const other = owners.find(o => o.state === 'other')
    if (other !== undefined) throw refused(other, me)
    for (const o of owners) {
      const marks = this.replicas.find(r => r.name === o.replica)!.storage.marks!
      if (
        o.state === 'none' &&
        !(await marks.create(OWNER_MARK, JSON.stringify({ ...me, since: new Date().toISOString() }), { signal }))
      ) {
        // another primary marked it in the same moment: whoever's mark is there owns it
        const owner = parseOwner((await marks.read(OWNER_MARK, { signal })) ?? '', marks.location)
        if (owner.id !== me.id) throw refused({ ...o, state: 'other', owner }, me)
      }
      this.fresh.set(o.replica, Date.now())
    }
  }
}

/** Who owns each replica of `storage` now, and who this primary is (nothing is written). */
export async function replicaOwners(
  storage: ReplicatedStorage
): Promise<{ me: HostIdentity; replicas: ReplicaOwner[] }> {
  const { owner } = partsOf(storage)
  return { me: await owner.identity(), replicas: await owner.owners() }
}

/** A rebuilt primary takes over the replicas `from` (the old host id) owned: see `ReplicaOwnership.takeOver`. */
export async function takeOver(
  storage: ReplicatedStorage,
  from: string
): Promise<{ me: HostIdentity; replicas: ReplicaOwner[] }> {
  const { owner } = partsOf(storage)
  return { me: await owner.identity(), replicas: await owner.takeOver(from) }
}
