/**
 * Which replicas still lack a frame that no outbox record names: the question the watcher asks of
 * each frame it finds in a changed folder, `status` of the frames written since the last pass, and
 * a duplicate `store` of its frame. A replica is served if the outbox holds the frame for it, or if
 * the ledger records a verified copy there (`upload`, `rehash`, `listed`). The ledger is read a
 * shard file at a time, and only the hashes asked for are parsed: the last shard's text is kept
 * (a pass asks in folder order), not a record per line (at 1M objects, parsing whole shards held
 * 300-400 MB of RSS while frames arrived, bench/watch.mjs).
 */
import { readdirSync, type Stats, statSync } from 'node:fs'
import { join } from 'node:path'
import { isMissing } from '../../core/errors.js'
import type { ShardingStrategy } from '../../core/sharding.js'
import { type Ledger, type LedgerRecord, lastRecord, VERIFIED } from './ledger.js'
import type { Outbox } from './outbox.js'
import type { FolderFailure } from './watch-progress.js'

export class CopyBook {
  /** Per replica, the last shard file read: its name and text. */
  private readonly shards = new Map<string, { shard: string; text: string }>()

  constructor(
    private readonly outbox: Outbox,
    private readonly ledger: Ledger,
    private readonly replicas: string[]
  ) {}

  /** The replica's verified record of `sha256`, if any. */
  verified(replica: string, sha256: string): LedgerRecord | undefined {
    const shard = sha256.slice(0, 2)
    let last = this.shards.get(replica)
    if (last?.shard !== shard) {
      last = { shard, text: this.ledger.shardText(replica, shard) }
      this.shards.set(replica, last)
    }
    const record = lastRecord(last.text, sha256)
    return record !== undefined && VERIFIED.has(record.how) ? record : undefined
  }

  queued(replica: string, sha256: string): boolean {
    return this.outbox.has(replica, sha256)
  }

  /** The replicas that neither hold a verified copy of `sha256` nor have it queued. */
  lacking(sha256: string): string[] {
    return this.replicas.filter(
      replica => !this.queued(replica, sha256) && this.verified(replica, sha256) === undefined
    )
  }
}

/** The replicas a store of `result` queues: all for a new frame; for a duplicate, those that lack it. */
export function toQueue(
  parts: { outbox: Outbox; ledger: Ledger },
  replicas: Array<{ name: string }>,
  result: { sha256: string; isDuplicate: boolean }
): string[] {
  const names = replicas.map(r => r.name)
  return result.isDuplicate ? new CopyBook(parts.outbox, parts.ledger, names).lacking(result.sha256) : names
}

type Replicas = {
  replicas: Array<{ name: string; storage: { stat: (sha256: string) => Promise<{ size: number }> } }>
}

/**
 * The replicas that lack `sha256`, found on the primary as `file`: none has it queued, and none holds it verified
 * since it was written (a frame written after its copy was verified, replaced or renewed, is compared by size, as
 * the reconcile compares).
 */
export async function lackingCopies(
  book: CopyBook,
  storage: Replicas,
  sha256: string,
  file: { mtimeMs: number; size: number }
): Promise<string[]> {
  const lacking: string[] = []
  for (const { name } of storage.replicas) {
    if (book.queued(name, sha256)) continue
    const record = book.verified(name, sha256)
    if (record === undefined || (file.mtimeMs > record.at && (await sizeDiffers(storage, name, sha256, file.size))))
      lacking.push(name)
  }
  return lacking
}

/** Whether the replica's copy is missing or of another size than the primary's (`size`). */
async function sizeDiffers(storage: Replicas, replica: string, sha256: string, size: number): Promise<boolean> {
  const copy = storage.replicas.find(r => r.name === replica)!.storage
  const stat = await copy.stat(sha256).catch(() => undefined)
  return stat?.size !== size
}

/** Where a watcher's pass queues the frames of the folders that changed. */
interface Queuing {
  root: string
  sharding: ShardingStrategy
  outbox: Outbox
  ledger: Ledger
  storage: Replicas
}

/**
 * Queues the frames in the shard folders `keys` that a replica lacks (`onQueued` for each, with how many copies it
 * lacks). A folder that cannot be read (EACCES, EIO), or holds an entry that cannot be stat'ed, is passed over and
 * named in `failed`, with the first error.
 */
export async function queueFolders(
  { root, sharding, outbox, ledger, storage }: Queuing,
  keys: string[],
  onQueued: (sha256: string, file: Stats, copies: number) => void
): Promise<{ queued: number; failed: string[]; failure?: FolderFailure }> {
  let queued = 0
  const failed: string[] = []
  let failure: FolderFailure | undefined
  const book = new CopyBook(
    outbox,
    ledger,
    storage.replicas.map(r => r.name)
  )
  for (const key of keys) {
    let frames: string[]
    try {
      frames = framesIn(root, key, sharding)
    } catch (err) {
      failed.push(key)
      failure ??= { folder: key, error: err }
      continue
    }
    for (const sha256 of frames) {
      let file: Stats | undefined
      try {
        file = statSync(join(root, sharding.encode(sha256)), { throwIfNoEntry: false })
      } catch (err) {
        // an entry that cannot be stat'ed (ELOOP: a link loop under a frame's name; EIO) holds up no other frame
        if (failed.at(-1) !== key) failed.push(key)
        failure ??= { folder: key, error: err }
        continue
      }
      if (file === undefined) continue // deleted meanwhile: nothing to copy
      const lacking = await lackingCopies(book, storage, sha256, file)
      if (lacking.length === 0) continue
      await outbox.add(sha256, lacking)
      onQueued(sha256, file, lacking.length)
      queued++
    }
  }
  return { queued, failed, failure }
}

/** The frames in one shard folder (`ab/cd`), as the layout names them; anything else is passed over. */
export function framesIn(root: string, key: string, sharding: ShardingStrategy): string[] {
  let names: string[]
  try {
    names = readdirSync(join(root, key))
  } catch (err) {
    if (isMissing(err)) return [] // gone meanwhile
    throw err // unreadable (EACCES, EIO): never taken for empty
  }
  const frames: string[] = []
  for (const name of names) {
    const sha256 = sharding.decode(`${key}/${name}`)
    if (sha256 !== undefined) frames.push(sha256)
  }
  return frames
}
