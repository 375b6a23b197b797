/**
 * Deleting an object that a concurrent store may be renewing, without ever losing a stored one.
 *
 * prune:  rename the object into {root}/.pruning (atomic), then read its mtime there:
 *         unchanged → unlink it; renewed → link it back (never over a newer copy), unlink the aside.
 * store:  a duplicate sets the object's mtime (on its open file), then checks the name still
 *         holds that file; if not, it writes the bytes anew (see store.ts, `FrameStore`).
 *
 * If the store's check finds the file in place, the prune's rename came after the store's mtime
 * update, so the prune reads the new mtime and puts the object back. If the check finds the name
 * empty, the store writes the object again. A SIGKILL between the steps leaves the object in
 * place, gone, or in .pruning, where `verify({ repair: true })` puts it back (as it moves a
 * misplaced object into place: `moveIntoPlace`).
 */
import { randomUUID } from 'node:crypto'
import { link, lstat, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { isMissing } from '../../core/errors.js'
import { SELF } from '../../core/process-identity.js'
import { SPECIAL_DIRS } from '../../core/special-dirs.js'
import { fsyncDir, type StoreDirs } from './write.js'

/**
 * Whose a set-aside object is, in its name (`<sha256>.p<pid>_<boot>.<uuid>`, the boot id's first 8 characters): a
 * repair puts back a dead prune's at once (after a power cut, every one), and leaves a live one's to it.
 */
export const SET_ASIDE_BY = `p${SELF.pid}_${SELF.boot.slice(0, 8)}`

export class SetAside {
  private pruning?: Promise<void>

  constructor(
    private readonly root: string,
    private readonly dirs: StoreDirs,
    private readonly fsync: boolean
  ) {}

  /** `{root}/.pruning`, made once with its name durable (before a prune moves an object into it). */
  private async ensurePruning(): Promise<void> {
    this.pruning ??= this.dirs.make(join(this.root, SPECIAL_DIRS.pruning), this.root)
    try {
      await this.pruning
    } catch (err) {
      this.pruning = undefined
      throw err
    }
  }

  /** True if `path` was deleted; false if it was gone already or was stored again after `seen`. */
  async deleteIfNotRenewed(path: string, sha256: string, seen: Date): Promise<boolean> {
    const aside = join(this.root, SPECIAL_DIRS.pruning, `${sha256}.${SET_ASIDE_BY}.${randomUUID()}`)
    try {
      // its name durable before an object moves in: else a power cut may keep the move and lose the
      // folder, and with it a renewed object the prune was putting back (found by test/crash)
      await this.ensurePruning()
      await rename(path, aside)
    } catch (err) {
      if (isMissing(err)) return false // gone already (or no root: the caller checks it)
      throw err
    }
    // a link moved aside (lstat: not followed) is no object: put back, never deleted (verify reports it)
    const moved = await lstat(aside)
    if (moved.isFile() && moved.mtime.getTime() === seen.getTime()) {
      await unlink(aside)
      if (this.fsync) await fsyncDir(dirname(path))
      return true
    }
    await putBack(aside, path, this.fsync)
    return false
  }
}

/** Links a set-aside object back to its name, unless the name holds a newer copy, and drops the aside. */
export async function putBack(aside: string, path: string, fsync: boolean): Promise<void> {
  try {
    await link(aside, path)
    if (fsync) await fsyncDir(dirname(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err // stored anew meanwhile: that copy stays
  }
  await unlink(aside)
}

/**
 * Links an intact object where its name puts it, then unlinks the misplaced name; false, and
 * nothing changed, if another object is already there (that copy stays, this one is left for an
 * operator). The same file there is a move a power cut stopped between its link and its unlink: it
 * is finished. Its folder made with its name durable (`made`): the unlink is, and the frame may
 * have no other copy.
 */
export async function moveIntoPlace(from: string, to: string, made: () => Promise<void>): Promise<boolean> {
  await made()
  try {
    await link(from, to)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    const [a, b] = await Promise.all([stat(from), stat(to)])
    if (a.ino !== b.ino || a.dev !== b.dev) return false
  }
  await fsyncDir(dirname(to))
  await unlink(from)
  await fsyncDir(dirname(from))
  return true
}
