/**
 * A cache entry being written: a temp file in its shard's folder, opened while sharp works, then one
 * write and a rename into place (with fsync of both when asked), so a crash leaves a whole entry or
 * none, and of two processes that write the same variant at once, one file stays: the same bytes
 * under the same name.
 */
import { close, closeSync, fsync as fsyncFd, open, renameSync, writeFile, writeSync } from 'node:fs'
import { mkdir, rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { Background } from '../../core/background.js'
import { fsyncDir } from '../../core/durable-files.js'

/**
 * Entries up to this size, cached without fsync, are written, renamed and closed synchronously: a
 * copy into the page cache, a rename and a close take microseconds, each thread-pool round trip took
 * tens right after a render (bench/RESULTS-variants.md, 2026-12-05).
 */
const SYNC_WRITE_BYTES = 64 * 1024

/** An entry being made: its folder and temp file exist, ready for the bytes. */
export interface TempEntry {
  /** Puts `bytes` in place as `name` in the folder. */
  commit: (name: string, bytes: Buffer) => Promise<void>
  /** Removes the temp file (the variant could not be made). */
  abandon: () => Promise<void>
}

export interface EntryFiles {
  fsync: boolean
  /** Where a close after the rename runs (and its failure is logged as `variants.close-failed`). */
  background: Background
  /** Removes a temp nobody waits for, logging a failure. */
  remove: (path: string) => Promise<unknown>
}

/** A callback API's call as a promise. */
async function call<T = void>(start: (done: (err: Error | null, value?: T) => void) => void): Promise<T> {
  return await new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value as T))))
}

/**
 * Opens a temp file in `folder` (made if missing). A plain descriptor, not a FileHandle: a small
 * entry's close is then a synchronous call, not a promise and a round trip.
 */
export async function beginEntry(folder: string, temp: string, files: EntryFiles): Promise<TempEntry> {
  const openTemp = async (): Promise<number> => await call<number>(done => open(temp, 'wx', done))
  let fd: number
  try {
    fd = await openTemp()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await mkdir(folder, { recursive: true }) // the shard's first variant
    fd = await openTemp()
  }
  let isOpen = true // a descriptor is closed once: closing its number again could close another file
  const closeFd = async (): Promise<void> => {
    if (!isOpen) return
    isOpen = false
    await call(done => close(fd, done))
  }
  /** Closes at once; a failure is logged (through `background`), not thrown: the entry is in place. */
  const closeNow = (): void => {
    isOpen = false
    try {
      closeSync(fd)
    } catch (err) {
      files.background.add(Promise.reject(err), 'variants.close-failed', { path: temp })
    }
  }
  const abandon = async (): Promise<void> => {
    await closeFd().catch(() => {}) // a close that fails after a failed write says nothing new
    await files.remove(temp)
  }
  const commit = async (name: string, bytes: Buffer): Promise<void> => {
    // Another process may have put the same entry there: same name, same bytes, so replacing it is harmless.
    try {
      if (!files.fsync && bytes.length <= SYNC_WRITE_BYTES) {
        for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at)
        renameSync(temp, join(folder, name))
      } else {
        await call(done => writeFile(fd, bytes, done))
        if (files.fsync) {
          await call(done => fsyncFd(fd, done))
          await closeFd()
        }
        await rename(temp, join(folder, name))
      }
    } catch (err) {
      await abandon()
      throw err
    }
    // without fsync the close follows the rename: the bytes are in place (a bad entry is found by its
    // digest on read), so a failed close is only logged
    if (files.fsync) await fsyncDir(folder)
    else if (bytes.length <= SYNC_WRITE_BYTES) closeNow()
    else files.background.add(closeFd(), 'variants.close-failed', { path: temp })
  }
  return { commit, abandon }
}
