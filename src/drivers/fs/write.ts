/**
 * The write path, in cacache's shape: a uniquely named temp file, written, fsynced, linked into
 * place without overwriting, and the directory fsynced; nothing else. Whether the bytes are new,
 * and what a name already taken means, is the caller's (store.ts).
 */
import { randomUUID } from 'node:crypto'
import { close, constants, fsync, open, write } from 'node:fs'
import { chmod, link, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import type { Background } from '../../core/background.js'
import { fsyncDir } from '../../core/durable-files.js'
import { isMissing } from '../../core/errors.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { StoreDirs } from './dirs.js'

const openFd = promisify(open)
const closeFd = promisify(close)
const writeAt = promisify(write)
const fsyncFd = promisify(fsync)

export interface WriteContext {
  root: string
  fsync: boolean
  fileMode?: number
  dirs: StoreDirs
  /** Closes and temp removals that nothing waits for. */
  background: Background
}

/**
 * Flags of a new file whose one write is also its sync: with O_DSYNC, the write returns once the
 * bytes and what is needed to read them back are on stable storage, in one round trip instead of two.
 */
const CREATE_DSYNC = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC

/** At most this much per write call: a 5 MB frame does not hold a pool thread (and a core) for its whole copy. */
const WRITE_CHUNK_BYTES = 1024 * 1024

/** Whether `size` bytes go to disk in one write call (see `writeAll`). */
export function fitsOneWrite(size: number): boolean {
  return size <= WRITE_CHUNK_BYTES
}

/** Writes all of `bytes` at `position`, at most 1 MiB per call. */
export async function writeAll(fd: number, bytes: Uint8Array, position = 0): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const length = Math.min(bytes.length - done, WRITE_CHUNK_BYTES)
    done += (await writeAt(fd, bytes, done, length, position + done)).bytesWritten
  }
}

/**
 * A complete (and, with fsync, durable) temp file written by `write`, beside `near` (its final
 * name, when its folder exists: writers of different images never share a directory lock), else
 * in `{root}/.tmp` (a stream, whose name is known at its end, or a new shard folder, made
 * meanwhile). `oneWrite`: the bytes go in one call, so O_DSYNC makes them durable with it.
 */
export async function writeTemp(
  context: WriteContext,
  near: string | undefined,
  write: (fd: number) => Promise<void>,
  oneWrite = false
): Promise<string> {
  const { dirs } = context
  await dirs.ensureRoot() // the one call of a store: memoised after the first
  const shard = near === undefined ? undefined : dirname(near)
  const made = shard === undefined || dirs.isDirectory(shard) ? undefined : dirs.makeShard(shard)
  const temp =
    near !== undefined && made === undefined
      ? `${near}.${randomUUID()}.tmp`
      : join(context.root, SPECIAL_DIRS.temp, `${randomUUID()}.tmp`)
  const [written, ready] = await Promise.allSettled([createTemp(context, temp, write, oneWrite), made])
  if (ready.status === 'rejected') {
    if (written.status === 'fulfilled') await removeIfExists(written.value).catch(() => {})
    throw ready.reason
  }
  if (written.status === 'rejected') throw written.reason
  return temp
}

async function createTemp(
  context: WriteContext,
  temp: string,
  write: (fd: number) => Promise<void>,
  oneWrite: boolean
): Promise<string> {
  // with an exact mode, the chmod after the write is synced by fsync as before
  const dsync = context.fsync && oneWrite && context.fileMode === undefined
  // its folder was just seen (or is .tmp): made again only if a prune removed it meanwhile
  const fd = await context.dirs.inShardDir(
    temp,
    async () => await openFd(temp, dsync ? CREATE_DSYNC : 'wx', context.fileMode ?? 0o666),
    true
  )
  try {
    await write(fd)
    if (context.fileMode !== undefined) await chmod(temp, context.fileMode)
    if (context.fsync && !dsync) await fsyncFd(fd)
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

/**
 * Links the temp to `path` without overwriting, then makes the name durable. If the name is taken,
 * `taken` says what is there: something (returned, and the temp dropped), or undefined for an
 * object to replace (damaged, or pruned meanwhile), which the temp then replaces atomically.
 * `seen`: the caller has just seen (or made) the folder of `path`.
 */
export async function linkIntoPlace<T>(
  context: WriteContext,
  temp: string,
  path: string,
  taken: () => Promise<T | undefined>,
  seen = false
): Promise<T | undefined> {
  let existing: T | undefined
  try {
    if (!(await linkUnlessTaken(context, temp, path, seen))) {
      existing = await taken()
      if (existing === undefined) await rename(temp, path)
    }
  } catch (err) {
    await removeIfExists(temp).catch(() => {}) // (verify removes a temp left behind)
    throw err
  }
  // the temp's name goes without a wait: the object is in place (verify removes a temp a crash left)
  context.background.add(removeIfExists(temp), 'fs.temp-remove-failed', { path: temp })
  if (context.fsync && existing === undefined) await fsyncDir(dirname(path))
  return existing
}

/** Links the temp to `path` without overwriting: false if the name is taken. */
async function linkUnlessTaken(context: WriteContext, temp: string, path: string, seen: boolean): Promise<boolean> {
  try {
    await context.dirs.inShardDir(
      path,
      async () => {
        await link(temp, path)
      },
      seen
    )
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

/** Removes a file that may already be gone. */
export async function removeIfExists(path: string): Promise<void> {
  await unlink(path).catch((err: unknown) => {
    if (!isMissing(err)) throw err
  })
}
