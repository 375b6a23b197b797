/**
 * The node's own index from SHA-256 to CID, in its MFS (the files API, which every Kubo has and
 * which survives restarts), one folder per shard:
 *
 *   /sai-images/ab/cd/<sha256>          a copy of the object's root itself: its CID is the object's
 *   /sai-images/ab/cd/<sha256>.<ms>     a time marker: the object was stored at <ms> (Unix ms)
 *
 * The entry is made with `files/cp`, which refuses a name that is taken, atomically per folder:
 * of the writers that store one new image at once, in any process, exactly one creates it. The
 * times are names, so one listing of a folder gives every object's last store (the latest
 * marker) without a read per object; a marker links the identity CID of nothing (`bafkqaaa`),
 * which has no block. Indexes written before markers kept the time in `<sha256>.stored`.
 */
import { PrefixSharding } from '../../core/sharding.js'
import { canonicalCid } from './cid.js'
import type { Answer, KuboConnection } from './client.js'
import { FLUSH_LIMIT, MISSING, NO_PARENT, PARENT_RACE, TAKEN } from './messages.js'
import { propagate } from './propagation.js'

export const DEFAULT_INDEX_PATH = '/sai-images'
/** The identity CID of no bytes: a marker's target, resolved without any block. */
export const NOTHING = 'bafkqaaa'
const SHARDING = new PrefixSharding()
const MARKER = /^([0-9a-f]{64})\.(\d{1,15})$/

/** The times a folder's names record for `sha256`, oldest first. */
export function markersOf(names: Iterable<string>, sha256: string): number[] {
  const times: number[] = []
  for (const name of names) {
    const match = MARKER.exec(name)
    if (match?.[1] === sha256) times.push(Number(match[2]))
  }
  return times.sort((a, b) => a - b)
}

export class MfsIndex {
  constructor(
    readonly root: string,
    private readonly rpc: KuboConnection
  ) {}

  shardOf(sha256: string): string {
    return `${this.root}/${SHARDING.dirOf(sha256).replace(/\/$/, '')}`
  }

  entryOf(sha256: string): string {
    return `${this.shardOf(sha256)}/${sha256}`
  }

  /** The CID the index holds for `sha256`, or undefined. */
  async lookup(sha256: string, signal?: AbortSignal): Promise<string | undefined> {
    const answer = await this.rpc.send('files/stat', { arg: this.entryOf(sha256), hash: true }, { signal })
    if (answer.refusal !== undefined && MISSING.test(answer.refusal)) return undefined
    return canonicalCid(this.rpc.json<{ Hash: string }>(answer).Hash)
  }

  /**
   * Records a store at `at` (a marker), making the shard's folders if they are missing (`parents`:
   * in the same request, unflushed, so a first store into a folder costs no more). Not flushed:
   * the claim that follows in the same folder flushes both.
   */
  async renew(sha256: string, at: number, signal?: AbortSignal): Promise<void> {
    let flush = false
    for (let attempt = 1; ; attempt++) {
      const params = { arg: [`/ipfs/${NOTHING}`, `${this.entryOf(sha256)}.${at}`], parents: true, flush }
      const answer = flush
        ? await propagate(this.rpc, 'files/cp', params, signal)
        : await this.rpc.send('files/cp', params, { signal })
      const refusal = answer.refusal
      if (refusal === undefined) {
        this.ok(answer)
        return
      }
      if (TAKEN.test(refusal)) return // a store of the same bytes in the same millisecond
      if (FLUSH_LIMIT.test(refusal) && !flush)
        flush = true // other clients left too many unflushed: this one flushes
      else if (!PARENT_RACE.test(refusal) || attempt >= 5)
        throw this.parentProblem(answer, refusal, attempt, this.shardOf(sha256))
      else await new Promise(resolve => setTimeout(resolve, attempt * 5)) // another request was making a parent folder
    }
  }

  /**
   * Creates the entry (unflushed: `flush` follows): `created`, or `taken` if there was one
   * already, which only another writer's entry means (see messages.ts).
   */
  async claim(sha256: string, cid: string, signal?: AbortSignal): Promise<'created' | 'taken'> {
    let flush = false
    for (let attempt = 1; ; attempt++) {
      const params = { arg: [`/ipfs/${cid}`, this.entryOf(sha256)], flush }
      const answer = flush
        ? await propagate(this.rpc, 'files/cp', params, signal)
        : await this.rpc.send('files/cp', params, { signal })
      if (answer.refusal === undefined) {
        this.ok(answer)
        return 'created'
      }
      if (TAKEN.test(answer.refusal)) return 'taken'
      if (attempt > 3) this.rpc.ok(answer)
      if (FLUSH_LIMIT.test(answer.refusal)) flush = true
      else if (NO_PARENT.test(answer.refusal)) await this.makeShard(sha256, signal)
      else this.rpc.ok(answer)
    }
  }

  /**
   * Persists the shard folder of `sha256` and every change in it (the entry, the markers) up to the
   * MFS root: one `files/flush` writes the changed folders and the root once, where a flushed
   * `files/cp` flushes twice (the file, then its folder).
   */
  async flush(sha256: string, signal?: AbortSignal): Promise<void> {
    this.rpc.ok(await propagate(this.rpc, 'files/flush', { arg: this.shardOf(sha256) }, signal))
  }

  /** The names in the shard folder of `sha256` (no block of any object is read). */
  async names(sha256: string, signal?: AbortSignal): Promise<string[]> {
    const answer = await this.rpc.send('files/ls', { arg: this.shardOf(sha256) }, { signal })
    if (answer.refusal !== undefined && MISSING.test(answer.refusal)) return []
    return (this.rpc.json<{ Entries: Array<{ Name: string }> | null }>(answer).Entries ?? []).map(entry => entry.Name)
  }

  /** When the object was last stored: its latest marker, or an older index's `.stored` file; undefined if neither. */
  async storedTime(sha256: string, names: string[], signal?: AbortSignal): Promise<Date | undefined> {
    const times = markersOf(names, sha256)
    if (times.length > 0) return new Date(times[times.length - 1]!)
    if (!names.includes(`${sha256}.stored`)) return undefined
    const answer = await this.rpc.send('files/read', { arg: `${this.entryOf(sha256)}.stored` }, { signal })
    if (answer.refusal !== undefined && MISSING.test(answer.refusal)) return undefined
    const text = this.rpc.ok(answer).body.toString()
    return text !== '' && Number.isFinite(Number(text)) ? new Date(Number(text)) : undefined
  }

  /**
   * Removes the entry and the markers among `names` (those of `sha256`; listed first if not given):
   * true if the entry was there and this call removed it. A marker made after `names` were
   * listed stays: it is a store's, newer than what was judged.
   */
  async remove(sha256: string, names?: string[], signal?: AbortSignal): Promise<boolean> {
    const listed = names ?? (await this.names(sha256, signal))
    const ours = listed.filter(name => name === sha256 || name.startsWith(`${sha256}.`))
    if (ours.length === 0) return false
    const failed = await this.rm(ours, signal)
    return ours.includes(sha256) && !failed.has(sha256)
  }

  /** Drops the markers of `sha256` older than `at`, but the first (the first store's, `stat().storedAt`). */
  async dropMarkersBefore(sha256: string, at: number, signal?: AbortSignal): Promise<void> {
    const old = markersOf(await this.names(sha256, signal), sha256)
      .slice(1)
      .filter(time => time < at)
    if (old.length > 0)
      await this.rm(
        old.map(time => `${sha256}.${time}`),
        signal
      )
  }

  /**
   * A new copy's history (migrate): markers at its first and last store (the first never after the
   * last), flushed, then the marker of the store at `now` goes: a cut leaves the copy younger (kept
   * by a prune), never without a time. The first store's time (`stat().storedAt`).
   */
  async backdate(
    sha256: string,
    now: number,
    kept: { storedAt?: Date; lastStoredAt?: Date },
    signal?: AbortSignal
  ): Promise<Date> {
    const last = Math.min(kept.lastStoredAt?.getTime() ?? now, now)
    const first = Math.min(kept.storedAt?.getTime() ?? last, last)
    if (first === now) return new Date(now)
    for (const at of new Set([first, last])) if (at < now) await this.renew(sha256, at, signal)
    await this.flush(sha256, signal)
    if (last < now) await this.rm([`${sha256}.${now}`], signal)
    return new Date(first)
  }

  /**
   * `files/mkdir -p` of the shard folder. Two requests that create the same missing parent race,
   * and the loser is told `file already exists`: the folder is there then, so it asks again.
   */
  async makeShard(sha256: string, signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const answer = await propagate(this.rpc, 'files/mkdir', { arg: this.shardOf(sha256), parents: true }, signal) // flushed
      if (answer.refusal === undefined) {
        this.rpc.ok(answer)
        return
      }
      if (!PARENT_RACE.test(answer.refusal) || attempt >= 5)
        throw this.parentProblem(answer, answer.refusal, attempt, this.shardOf(sha256))
      await new Promise(resolve => setTimeout(resolve, attempt * 5))
    }
  }

  /** The same parent-race answer every time: a part of the path is a file, not a folder. */
  private parentProblem(answer: Answer, refusal: string, attempt: number, folder: string): Error {
    if (!PARENT_RACE.test(refusal)) return this.rpc.unavailable(answer.command, `the node answered: ${refusal}`)
    return this.rpc.unavailable(
      answer.command,
      `cannot make the index folder ${folder}: the node answered "${refusal}" ${attempt} times (is a part of the path a file?)`
    )
  }

  /**
   * `files/rm` of names in one shard folder (always flushed: Kubo refuses `flush=false` here): the names that were not
   * there.
   */
  private async rm(names: string[], signal?: AbortSignal): Promise<Set<string>> {
    const shard = this.shardOf(names[0]!.slice(0, 64))
    const answer = await propagate(this.rpc, 'files/rm', { arg: names.map(name => `${shard}/${name}`) }, signal)
    if (answer.refusal !== undefined) this.rpc.ok(answer)
    // Kubo answers 200 with one JSON string per path it could not remove, and a trailer
    const failed = new Set<string>()
    for (const line of answer.body
      .toString()
      .split('\n')
      .filter(line => line.trim() !== '')) {
      let message = line
      try {
        message = String(JSON.parse(line))
      } catch {}
      const name = names.find(n => message.startsWith(`${shard}/${n}:`))
      if (name === undefined || !MISSING.test(message))
        throw this.rpc.unavailable('files/rm', `the node answered: ${message}`)
      failed.add(name)
    }
    return failed
  }

  private ok(answer: Answer): void {
    if (answer.streamError !== undefined) this.rpc.ok(answer)
  }
}
