/**
 * The write path. A write goes to a uniquely named temp file (beside its final name, or in
 * `{root}/.tmp` for a stream or a new shard), is fsynced, linked into place without overwriting,
 * and the shard directory is fsynced before `store` resolves. A writer that finds the name taken
 * checks the bytes there: intact means another writer won (a duplicate); anything else (a 0-byte
 * or truncated file from a crashed writer) is replaced.
 */
import { randomUUID } from 'node:crypto'
import { futimes } from 'node:fs'
import { chmod, link, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Background } from '../../core/background.js'
import { fsyncDir } from '../../core/durable-files.js'
import { digestBytesInSlices, ImageHasher, type Digest } from '../../core/hashing.js'
import type { InputLimits } from '../../core/input.js'
import type { ShardingStrategy } from '../../core/sharding.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { StoreDirs } from './dirs.js'
import {
  closeFd,
  CREATE_DSYNC,
  firstStored,
  fitsOneWrite,
  hashFile,
  holdsBytes,
  isDirectory,
  openFd,
  removeIfExists,
  statIfIntact,
  syncFile,
  writeAll
} from './files.js'

export interface WriteContext {
  root: string
  sharding: ShardingStrategy
  fsync: boolean
  fileMode?: number
  dirs: StoreDirs
  background: Background
  /** Whether this store runs alone in the driver (then a recent object is read synchronously). */
  alone: () => boolean
}

type Written = { digest: Digest; isDuplicate: boolean; storedAt: Date }

/** `mtime`: the last store of a copy that keeps its times (set before the fsync that makes it durable). */
export async function writeBytes(
  context: WriteContext,
  bytes: Buffer,
  limits: InputLimits,
  signal?: AbortSignal,
  mtime?: Date
): Promise<Written> {
  const digest = await digestBytesInSlices(bytes, limits)
  const path = join(context.root, context.sharding.encode(digest.sha256))
  const sameBytes = async (fd: number, sync: boolean): Promise<boolean> => await holdsBytes(fd, bytes, sync)
  const existing = await statIfIntact(path, bytes.length, sameBytes, context.alone(), context.fsync)
  if (existing !== undefined) return { digest, isDuplicate: true, storedAt: firstStored(existing) }
  signal?.throwIfAborted()
  // Beside its final name: writers of different images never share a directory lock. In a new
  // shard, staged in {root}/.tmp while the shard directory is made (one round trip less).
  const shard = dirname(path)
  await context.dirs.ensureRoot()
  const made = isDirectory(shard) ? undefined : context.dirs.makeShard(shard)
  const staged =
    made === undefined ? `${path}.${randomUUID()}.tmp` : join(context.root, SPECIAL_DIRS.temp, `${randomUUID()}.tmp`)
  const write = async (fd: number): Promise<void> => {
    await writeAll(fd, bytes)
    if (mtime !== undefined) await keepTime(fd, mtime)
  }
  // O_DSYNC makes the write durable, not a later change of times: those need the fsync
  const [written, ready] = await Promise.allSettled([
    writeTemp(context, staged, write, mtime === undefined && fitsOneWrite(bytes.length)),
    made
  ])
  if (ready.status === 'rejected') {
    if (written.status === 'fulfilled') await removeIfExists(written.value).catch(() => {})
    throw ready.reason
  }
  if (written.status === 'rejected') throw written.reason
  return await commit(context, written.value, path, digest, sameBytes, signal)
}

export async function writeChunks(
  context: WriteContext,
  chunks: AsyncIterable<Uint8Array>,
  limits: InputLimits,
  signal?: AbortSignal,
  mtime?: Date
): Promise<Written> {
  const hasher = new ImageHasher(limits)
  let digest!: Digest
  // the shard is known only at the end: staged in {root}/.tmp, on the same filesystem
  const temp = await writeTemp(context, join(context.root, SPECIAL_DIRS.temp, `${randomUUID()}.tmp`), async fd => {
    let position = 0
    for await (const chunk of chunks) {
      signal?.throwIfAborted()
      hasher.update(chunk)
      await writeAll(fd, chunk, position)
      position += chunk.byteLength
    }
    digest = hasher.digest()
    if (mtime !== undefined) await keepTime(fd, mtime)
  })
  const sameHash = async (fd: number): Promise<boolean> => (await hashFile(fd, signal)) === digest.sha256
  return await commit(
    context,
    temp,
    join(context.root, context.sharding.encode(digest.sha256)),
    digest,
    sameHash,
    signal
  )
}

async function keepTime(fd: number, mtime: Date): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    futimes(fd, mtime, mtime, err => {
      if (err === null) resolve()
      else reject(err)
    })
  })
}

/**
 * A complete, durable temp file written by `write`; removed again if anything fails. A durable
 * file written in one call (`oneWrite`) is opened with O_DSYNC (see CREATE_DSYNC): one round trip less.
 */
async function writeTemp(
  context: WriteContext,
  temp: string,
  write: (fd: number) => Promise<void>,
  oneWrite = false
): Promise<string> {
  await context.dirs.ensureRoot()
  // with an exact mode, the chmod after the write is synced by fsync as before
  const dsync = context.fsync && oneWrite && context.fileMode === undefined
  // the calls that change the tree are asynchronous: under fsync load they wait for the journal
  const fd = await context.dirs.inShardDir(
    temp,
    async () => await openFd(temp, dsync ? CREATE_DSYNC : 'wx', context.fileMode ?? 0o666)
  )
  try {
    await write(fd)
    if (context.fileMode !== undefined) await chmod(temp, context.fileMode)
    if (context.fsync && !dsync) await syncFile(fd)
  } catch (err) {
    // the cleanup's own failure (EROFS after ENOSPC, say) must not hide why the write failed
    await closeFd(fd).catch(() => {})
    await removeIfExists(temp).catch(() => {})
    throw err
  }
  // Nothing waits for the close: the bytes are written (and synced when asked), the link takes
  // the path, and on a local disk close reports no error that fsync has not (one round trip less).
  context.background.add(closeFd(fd), 'fs.close-failed', { path: temp })
  return temp
}

/** Moves the temp into place without overwriting an intact object, then makes the name durable. */
async function commit(
  context: WriteContext,
  temp: string,
  path: string,
  digest: Digest,
  isIntact: (fd: number, sync: boolean) => Promise<boolean>,
  signal?: AbortSignal
): Promise<Written> {
  let existing
  try {
    signal?.throwIfAborted()
    if (!(await linkIntoPlace(context, temp, path))) {
      existing = await statIfIntact(path, digest.size, isIntact, context.alone(), context.fsync)
      if (existing === undefined) await rename(temp, path) // the object there is damaged (or was just pruned): replace it, atomically
    }
  } catch (err) {
    await removeIfExists(temp).catch(() => {}) // (verify removes a temp left behind)
    throw err
  }
  // the temp's name goes without a wait: the object is in place (verify removes a temp a crash left)
  context.background.add(removeIfExists(temp), 'fs.temp-remove-failed', { path: temp })
  if (context.fsync && existing === undefined) await fsyncDir(dirname(path))
  return existing === undefined
    ? { digest, isDuplicate: false, storedAt: new Date() }
    : { digest, isDuplicate: true, storedAt: firstStored(existing) }
}

/** Links the temp to `path` without overwriting: false if the name is taken. */
async function linkIntoPlace(context: WriteContext, temp: string, path: string): Promise<boolean> {
  try {
    await context.dirs.inShardDir(path, async () => {
      await link(temp, path)
    })
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}
