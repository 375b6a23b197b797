/**
 * The ledger's files (ledger.ts): appends that never join a line a power cut tore, a durable append that waits out
 * a compaction of its file, a file rewritten whole, and the temps a crash left.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs'
import { type FileHandle, open, readdir, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fsyncDir } from '../../core/durable-files.js'
import { DrainLock } from './lock.js'

/**
 * Appends `text` (whole lines) to `path`; `durable`: see `appendDurably`. A plain append's five small calls are
 * made synchronously: through the thread pool each costs the main thread more than the call itself (a drain appends
 * once per copy: 400 appends, 62 ms of CPU against 8; bench/RESULTS-replication-cli.md).
 */
export async function appendLines(path: string, text: string, durable = false): Promise<void> {
  if (durable) return await appendDurably(path, text)
  const fd = openSync(path, 'a+')
  try {
    writeSync(fd, afterTornLine(fd, fstatSync(fd).size, text))
  } finally {
    closeSync(fd)
  }
}

/**
 * Each path's file (device and inode) whose name this process made durable, its folder fsynced after a durable
 * append: a file a plain append made (a store's `restored` record) has a name no fsync has reached, and a durable
 * mark needs one.
 */
const named = new Map<string, string>()

/**
 * Appends `text` and fsyncs it, into the file at `path` once it returns: a compaction of the file that began before
 * the write (its marker, `compacting`) is waited out, as it may have read the file without it, and the text written
 * again if the compaction replaced the file.
 */
async function appendDurably(path: string, text: string): Promise<void> {
  for (;;) {
    const handle = await open(path, 'a+')
    let same: boolean
    try {
      const mine = await handle.stat() // (before a rename can unlink it: crashfs cannot stat an unlinked file)
      await handle.write(afterTornLine(handle.fd, mine.size, text))
      await handle.sync()
      const file = `${mine.dev}:${mine.ino}`
      if (mine.size === 0 || named.get(path) !== file) await fsyncDir(dirname(path))
      named.set(path, file)
      const marker = compacting(path)
      while (marker.isHeld()) await sleep(2)
      const now = statSync(path, { throwIfNoEntry: false })
      same = now !== undefined && now.ino === mine.ino && now.dev === mine.dev
    } finally {
      await handle.close()
    }
    if (same) return
  }
}

/**
 * `text`, after a newline if the file's last line has none: a power cut tore it, and a line written straight after
 * would be read as one with it (a lost eviction mark, or a junk record hiding an earlier one).
 */
function afterTornLine(fd: number, size: number, text: string): string {
  if (size === 0) return text
  const last = Buffer.alloc(1)
  readSync(fd, last, 0, 1, size - 1)
  return last[0] === 0x0a ? text : `\n${text}`
}

/** The marker a compaction of `path` holds while it reads and replaces the file (one holder, a process's lock). */
export function compacting(path: string): DrainLock {
  return new DrainLock(`${path}.compacting`, { perHolder: true })
}

/**
 * `path` rewritten as `head` and what followed its first `since` bytes, durably (fsynced, its rename too), and
 * under its `compacting` marker, which durable appends wait out (else one written after the read below would reach
 * the new file only through the late lines appended here, after the rename was durable: a cut between lost it).
 * Lines appended to the old file after the read are appended to the new one (plainly: a durable one's writer
 * writes it again itself); one written after that costs a verification.
 */
export async function rewriteFile(path: string, head: string, since: number): Promise<void> {
  const marker = compacting(path)
  if (!(await marker.acquire())) return // another compaction's (not under the lock): left
  let old: FileHandle | undefined
  try {
    old = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
      return undefined
    })
    const before = old === undefined ? Buffer.alloc(0) : await old.readFile()
    await replace(path, head + wholeLines(before.subarray(since)), true)
    if (old === undefined) return
    const late = Buffer.alloc(1 << 16)
    const tail: Buffer[] = []
    for (let at = before.length, got; (got = (await old.read(late, 0, late.length, at)).bytesRead) > 0; at += got)
      tail.push(Buffer.from(late.subarray(0, got)))
    if (tail.length > 0) await appendLines(path, wholeLines(Buffer.concat(tail)))
  } finally {
    await old?.close()
    await marker.release()
  }
}

/** `path` replaced by a file of `text` (a temp of its own, renamed over it); `durable`: fsynced, its folder too. */
export async function replace(path: string, text: string, durable: boolean): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const handle = await open(temp, 'w')
  try {
    await handle.writeFile(text)
    if (durable) await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  if (durable) await fsyncDir(dirname(path))
}

/** `bytes` as lines, the last one ended (a fragment of a line being written parses as nothing, never a record). */
export function wholeLines(bytes: Buffer): string {
  const text = bytes.toString('utf8')
  return text === '' || text.endsWith('\n') ? text : `${text}\n`
}

/**
 * The temps and markers of compactions a crash cut short, in every copy's folder under `ledger`: only a compaction
 * writes one, and the caller holds the compaction lock (a marker whose pid a live process took since is not waited
 * on for longer than this).
 */
export async function removeTemps(ledger: string): Promise<void> {
  const copies = await readdir(ledger).catch(() => [])
  for (const copy of copies) {
    const folder = join(ledger, copy)
    const names = await readdir(folder).catch(() => [])
    for (const name of names.filter(n => n.endsWith('.tmp') || n.endsWith('.compacting')))
      await unlink(join(folder, name)).catch(() => {})
  }
}
