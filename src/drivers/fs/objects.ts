/**
 * Where an object's file is, and what a failure to read it means: a miss is "not found" only
 * while the root is the one it was (an unmounted store is unavailable), and says so if a repair
 * quarantined the object; an OS error that means the store cannot be used is unavailable.
 */
import { closeSync, fstatSync, lstatSync, openSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { InvalidInputError, isMissing, isUnavailable, NotFoundError, passThrough } from '../../core/errors.js'
import { quarantinedHint } from '../../core/quarantine.js'
import { parseImageRef } from '../../core/ref.js'
import type { ShardingStrategy } from '../../core/sharding.js'
import { OBJECT_READ } from './read.js'
import type { StoreLayout } from './layout.js'
import type { FilesystemQuarantine } from './quarantine.js'
import type { StoreRoot } from './store.js'

export class ObjectFiles {
  constructor(
    private readonly root: string,
    private readonly sharding: ShardingStrategy,
    private readonly watched: StoreRoot,
    private readonly quarantine: FilesystemQuarantine,
    private readonly layout?: StoreLayout
  ) {}

  locate(ref: string): { sha256: string; path: string } {
    this.layout?.check() // the first call of a process whose settings are not the store's: ERR_CONFIG
    const { sha256 } = parseImageRef(ref)
    return { sha256, path: join(this.root, this.sharding.encode(sha256)) }
  }

  /**
   * The object's file, open for reading (the caller closes `fd`), and its stats (taken once: a folder there fails
   * here, a link at the open). Synchronous, as a fetch's open (read.ts).
   */
  open(sha256: string, path: string): { fd: number; stats: Stats } {
    let fd: number
    try {
      fd = openSync(path, OBJECT_READ)
    } catch (err) {
      throw this.readError(err, sha256, path) // a miss: not found (or unavailable, the root gone)
    }
    // a folder opens, and fails only at its first read: a stream would have begun
    try {
      const stats = fstatSync(fd)
      const notAFile = notAFileError(path, stats)
      if (notAFile !== undefined) throw notAFile
      return { fd, stats }
    } catch (err) {
      closeSync(fd)
      throw this.readError(err, sha256, path)
    }
  }

  /**
   * The entry under an object's name (lstat: the cost of a stat), or undefined if there is none. A folder or a
   * link there is no answer: `ERR_STORAGE_UNAVAILABLE` naming it, as a read says (`open`).
   */
  entry(sha256: string, path: string): Stats | undefined {
    try {
      const stats = lstatSync(path)
      const notAFile = notAFileError(path, stats)
      if (notAFile !== undefined) throw notAFile
      return stats
    } catch (err) {
      if (!isMissing(err)) throw this.readError(err, sha256, path)
      this.watched.check() // an unmounted store is unavailable, not empty
      return undefined
    }
  }

  /** A read's failure as ours. */
  readError(err: unknown, sha256: string, path: string): unknown {
    const ours = passThrough(err)
    if (ours !== undefined) return ours
    if (isMissing(err)) {
      this.watched.check()
      const [held] = this.quarantine.holding(sha256)
      return new NotFoundError(sha256, path, held === undefined ? undefined : quarantinedHint(held))
    }
    return isUnavailable(err) ? this.watched.failure(err, path) : InvalidInputError.unreadable(path, err)
  }
}

/**
 * The error a read gives where a folder (EISDIR) or a symbolic link (ELOOP: reads do not follow one, read.ts)
 * stands under an object's name, for the checks that find one before a read; undefined for anything else.
 */
export function notAFileError(path: string, stats: Stats): NodeJS.ErrnoException | undefined {
  const [code, what] = stats.isDirectory()
    ? ['EISDIR', 'illegal operation on a directory']
    : stats.isSymbolicLink()
      ? ['ELOOP', 'too many symbolic links encountered']
      : []
  return code === undefined ? undefined : Object.assign(new Error(`${code}: ${what}, open '${path}'`), { code, path })
}
