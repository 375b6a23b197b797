/**
 * The ledger's files (ledger.ts): a durable append that follows a rewrite, a file replaced whole, and the temps a
 * crash left.
 */
import { randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import { open, readdir, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fsyncDir } from '../../core/durable-files.js'

/** Appends `text` and fsyncs it; again to the file now at `path` if a rewrite replaced it meanwhile. */
export async function appendDurably(path: string, text: string): Promise<void> {
  for (;;) {
    const handle = await open(path, 'a')
    let same: boolean
    try {
      const made = (await handle.stat()).size === 0
      await handle.write(text)
      await handle.sync()
      if (made) await fsyncDir(dirname(path))
      const now = statSync(path, { throwIfNoEntry: false })
      const mine = await handle.stat()
      same = now !== undefined && now.ino === mine.ino && now.dev === mine.dev
    } finally {
      await handle.close()
    }
    if (same) return
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

/** The temps of compactions a crash cut short, in every copy's folder under `ledger` (only a compaction writes one). */
export async function removeTemps(ledger: string): Promise<void> {
  const copies = await readdir(ledger).catch(() => [])
  for (const copy of copies) {
    const folder = join(ledger, copy)
    const names = await readdir(folder).catch(() => [])
    for (const name of names.filter(n => n.endsWith('.tmp'))) await unlink(join(folder, name)).catch(() => {})
  }
}
