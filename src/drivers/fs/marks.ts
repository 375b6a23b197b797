/**
 * `marks` on the filesystem: `{root}/.marks/<name>`, its generations (core/marks.ts) small files
 * written whole (core/durable-text.ts) and linked into place without overwriting: of two hosts
 * creating one mark, or swapping it, one wins and the other reads the winner's. A dot folder: no
 * walk of the objects enters it.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMissing } from '../../core/errors.js'
import { createText } from '../../core/durable-text.js'
import { generationName, newestGeneration, type StoreMarks } from '../../core/marks.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import type { StoreDirs } from './write.js'
import type { StoreRoot } from './store.js'

export function filesystemMarks(root: StoreRoot, dirs: StoreDirs): StoreMarks {
  const dir = join(root.path, SPECIAL_DIRS.marks)
  /** The marks' folder, made as the store's own (never on a bare mount point); OS errors: ERR_STORAGE_UNAVAILABLE */
  const writing = async <T>(work: () => Promise<T>): Promise<T> => {
    await dirs.ensureRoot()
    try {
      await dirs.make(dir, root.path)
      return await work()
    } catch (err) {
      throw (err as NodeJS.ErrnoException).code === undefined ? err : root.failure(err as NodeJS.ErrnoException)
    }
  }
  /** The newest generation and its text; undefined if there is none. */
  const newest = async (name: string): Promise<{ n: number; text: string } | undefined> => {
    if (!root.check()) return undefined // no root yet: nothing was ever written there
    try {
      const n = newestGeneration(await readdir(dir), name)
      return n === undefined ? undefined : { n, text: await readFile(join(dir, generationName(name, n)), 'utf8') }
    } catch (err) {
      if (isMissing(err)) return undefined
      throw root.failure(err as NodeJS.ErrnoException)
    }
  }
  return {
    location: dir,
    async read(name) {
      return (await newest(name))?.text
    },
    async create(name, text) {
      return await writing(async () => await createText(join(dir, name), text))
    },
    async swap(name, from, text) {
      const now = await newest(name)
      if (now === undefined || now.text !== from) return false
      return await writing(async () => await createText(join(dir, generationName(name, now.n + 1)), text))
    }
  }
}
