/**
 * `marks` on the filesystem: `{root}/.marks/<name>`, each a small file written whole (core/durable-text.ts):
 * `create` links it into place without overwriting, so that of two hosts creating one mark, one wins
 * and the other reads the winner's. A dot folder: no walk of the objects enters it.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMissing } from '../../core/errors.js'
import { createText, replaceText } from '../../core/durable-text.js'
import type { StoreMarks } from '../../core/marks.js'
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
  return {
    location: dir,
    async read(name) {
      if (!root.check()) return undefined // no root yet: nothing was ever written there
      try {
        return await readFile(join(dir, name), 'utf8')
      } catch (err) {
        if (isMissing(err)) return undefined
        throw root.failure(err as NodeJS.ErrnoException)
      }
    },
    async create(name, text) {
      return await writing(async () => await createText(join(dir, name), text))
    },
    async replace(name, text) {
      await writing(async () => await replaceText(join(dir, name), text))
    }
  }
}
