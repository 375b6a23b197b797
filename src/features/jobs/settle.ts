/**
 * A file an import takes only once it has stopped changing: a frame still being written (the dashboard's
 * `writeFile` puts 512 KiB on disk at a time) would otherwise be stored and recorded as a prefix, and every later
 * run would pass over the whole frame as done.
 */
import type { BigIntStats } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { InvalidInputError } from '../../core/errors.js'
import { changedAtMs, fileIdentity } from '../../core/file-identity.js'

/** The waits for a file that keeps changing before this run gives up on it (the next run tries it again). */
const MAX_WAITS = 10

/**
 * Waits until the file at `path` is `minAgeMs` old (its last change: a write, a truncation, a `utimes`, a `chmod`)
 * or was seen unchanged across a wait for it (a clock stepped back, a server's clock ahead): its identity then
 * (file-identity.ts), or undefined if `signal` stopped the wait. A file still changing after `MAX_WAITS` waits is
 * `ERR_INVALID_INPUT`.
 */
export async function settled(path: string, minAgeMs: number, signal?: AbortSignal): Promise<string | undefined> {
  let stats = await statOf(path)
  for (let waits = 0; Date.now() - changedAtMs(stats) < minAgeMs; waits++) {
    if (waits === MAX_WAITS)
      throw new InvalidInputError(
        `${path} is still being written (it changed ${MAX_WAITS} times while the import waited for it to rest ` +
          `${minAgeMs / 1000} s): not stored; the next run tries it again`
      )
    const wait = Math.min(minAgeMs, Math.max(1, changedAtMs(stats) + minAgeMs - Date.now()))
    if (!(await sleep(wait, signal))) return undefined
    const again = await statOf(path)
    if (fileIdentity(again) === fileIdentity(stats)) break
    stats = again
  }
  return fileIdentity(stats)
}

/** The file's identity now, else `ERR_INVALID_INPUT` (gone since the walk, say): that file fails, not the run. */
export async function identityOf(path: string): Promise<string> {
  return fileIdentity(await statOf(path))
}

async function statOf(path: string): Promise<BigIntStats> {
  try {
    return await stat(path, { bigint: true })
  } catch (err) {
    throw InvalidInputError.unreadable(path, err)
  }
}

/** Whether `ms` passed (false: `signal` aborted first). */
async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted === true) return false
  return await new Promise(resolve => {
    const done = (passed: boolean): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', stop)
      resolve(passed)
    }
    const stop = (): void => done(false)
    const timer = setTimeout(() => done(true), ms)
    signal?.addEventListener('abort', stop, { once: true })
  })
}

/** A JPEG without its end marker that changed this recently is taken as still being written (a writer stalled). */
export const UNFINISHED_JPEG_MS = 10 * 60_000

/**
 * `ERR_INVALID_INPUT` if `path` is a JPEG (FF D8) whose last bytes are not its end marker (FF D9) and that changed
 * less than `UNFINISHED_JPEG_MS` ago: a writer that stalled longer than the rest an import waits for, mid-frame.
 * Recorded, the prefix would be the mapping's frame for good (a recorded path is not read again). A frame cut for
 * good (or with bytes after its end) is taken once it has not changed for that long.
 */
export async function refuseUnfinishedJpeg(path: string): Promise<void> {
  const file = await open(path, 'r').catch(() => undefined)
  if (file === undefined) return // (the store says why)
  try {
    const stats = await file.stat({ bigint: true })
    if (Date.now() - changedAtMs(stats) >= UNFINISHED_JPEG_MS || stats.size < 4n) return
    const [head, tail] = [Buffer.alloc(2), Buffer.alloc(2)]
    await file.read(head, 0, 2, 0)
    await file.read(tail, 0, 2, Number(stats.size) - 2)
    if (head.readUInt16BE(0) === 0xffd8 && tail.readUInt16BE(0) !== 0xffd9)
      throw new InvalidInputError(
        `${path} is a JPEG without its end marker that changed less than ${UNFINISHED_JPEG_MS / 60_000} min ago: ` +
          'still being written? Not recorded; a later run takes it (as it is, once it has not changed for that long)'
      )
  } finally {
    await file.close()
  }
}
