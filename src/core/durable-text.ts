/**
 * A small text file written so that a power cut leaves either the old text or the new one, whole:
 * written and fsynced under a temporary name, then linked (create: never over another) or renamed
 * (replace) into place, and the folder fsynced; the folder made with its name durable, and that name
 * fsynced again in its parent (another writer may have made it without). Used for marks and for a
 * host's identity: rare writes, so two fsyncs more cost nothing.
 */
import { randomBytes } from 'node:crypto'
import { link, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fsyncDir, makeDirDurably } from './durable-files.js'

/** Writes `text` at `path` if nothing is there: false if something was (it is left alone). */
export async function createText(path: string, text: string): Promise<boolean> {
  const temp = await written(path, text)
  try {
    await link(temp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    await unlink(temp)
  }
  await settled(path)
  return true
}

/** Writes `text` at `path`, replacing what was there in one step. */
export async function replaceText(path: string, text: string): Promise<void> {
  const temp = await written(path, text)
  try {
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  await settled(path)
}

/** The new name at `path` durable, and its folder's in the folder above. */
async function settled(path: string): Promise<void> {
  await Promise.all([fsyncDir(dirname(path)), fsyncDir(dirname(dirname(path)))])
}

async function written(path: string, text: string): Promise<string> {
  await makeDirDurably(dirname(path))
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const file = await open(temp, 'wx')
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
  return temp
}
