/**
 * File steps that the rooms writing to a local disk share (the variant cache, replication's state,
 * the driver's reads): a whole file read in one round trip through libuv's thread pool, and a
 * directory fsync, so that a new name survives a power cut. (The filesystem driver's write path has
 * its directory fsync in drivers/fs/write.ts: a store crosses no helper file for it.)
 */
import { closeSync, fstatSync, fsync, openSync, read, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'

const readAt = promisify(read)
const fsyncFd = promisify(fsync)

/**
 * Up to `length` bytes from the start of an open file, in as few reads as the OS allows (one, as a rule).
 */
export async function readUpTo(
  fd: number,
  length: number,
  buffer: Buffer = Buffer.allocUnsafe(length)
): Promise<Buffer> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await readAt(fd, buffer, done, length - done, done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buffer.subarray(0, done)
}

/**
 * The whole file: open, fstat and close are synchronous (microseconds for a file being read), the
 * read of the known size is one round trip; `readFile` takes four for the same bytes.
 */
export async function readWhole(path: string): Promise<Buffer> {
  const fd = openSync(path, 'r')
  try {
    return await readUpTo(fd, fstatSync(fd).size)
  } finally {
    closeSync(fd)
  }
}

/**
 * Makes a directory's entries (a new link, a new subdirectory) survive a power cut: one round trip,
 * the fsync; opening and closing the directory are lookups (microseconds), as for a read (a round
 * trip less, measured: bench/RESULTS.md, 2026-12-01).
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r')
  try {
    await fsyncFd(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Makes the file `{root}/{key}` survive a power cut, whoever wrote it and however: its bytes, and its name in each
 * folder from its own up to `root`. A file and folders already on the disk cost an fsync that writes nothing.
 */
export async function syncUnder(root: string, key: string): Promise<void> {
  let path = join(root, key)
  await fsyncDir(path) // a read-only descriptor's fsync syncs a file's bytes as well as a folder's names
  while (path !== root && path !== dirname(path)) await fsyncDir((path = dirname(path)))
}

/** A store's copy of `sha256` made durable by `syncUnder` where the store is a local folder (elsewhere: its own). */
export async function syncCopy(store: { root?: string; keyOf: (ref: string) => string }, sha256: string) {
  if (store.root !== undefined) await syncUnder(store.root, store.keyOf(sha256))
}

/**
 * Makes `dir` and its missing parents, a level at a time, each new name fsynced in its parent (a
 * `mkdir -p` alone leaves a folder, and what is then written durably in it, to the next journal commit).
 */
export async function makeDirDurably(dir: string): Promise<void> {
  const missing: string[] = []
  for (let d = dir; d !== dirname(d) && statSync(d, { throwIfNoEntry: false }) === undefined; d = dirname(d))
    missing.unshift(d)
  for (const d of missing) {
    await mkdir(d).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err // (another writer's, made this instant: fsynced here too)
    })
    await fsyncDir(dirname(d))
  }
}

/**
 * Directory fsyncs shared by callers that ask at once (an owner's, e.g. an outbox's): a caller waits
 * for an fsync that started after it asked (the one running, if any, may have started before its
 * change), so that N new names in one folder cost one or two fsyncs, not N.
 */
export class SharedDirSync {
  private readonly syncing = new Map<string, { running?: Promise<void>; queued?: Promise<void> }>()

  async fsync(dir: string): Promise<void> {
    let state = this.syncing.get(dir)
    if (state === undefined) this.syncing.set(dir, (state = {}))
    const current = state
    const start = (): Promise<void> => {
      const running = fsyncDir(dir).finally(() => {
        if (current.running === running) current.running = undefined
        if (current.running === undefined && current.queued === undefined) this.syncing.delete(dir)
      })
      current.running = running
      return running
    }
    if (current.running === undefined) return await start()
    current.queued ??= current.running
      .catch(() => {})
      .then(async () => {
        current.queued = undefined
        await start()
      })
    return await current.queued
  }
}
