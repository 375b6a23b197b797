/**
 * The store's root, watched: an unmounted array must never read as an empty store. The root is
 * checked where a lookup misses (costing nothing on the hits), and its identity (device and inode)
 * is remembered, so that a root that disappears or is replaced while the process runs (an unmount
 * leaves the bare mount point behind) is `ERR_STORAGE_UNAVAILABLE`, not "not found".
 */
import { statSync } from 'node:fs'
import { isMissing, StorageUnavailableError } from '../../core/errors.js'
import { aboutOption, type Wording } from '../../core/option-names.js'
import type { FilesystemDriverInit } from './init.js'

export class StoreRoot {
  private identity?: { dev: number; ino: number }

  /** `creatable`: a missing root is the library's to make (until it has been seen once). */
  private readonly creatable: boolean
  /** Why a missing root is not created, for messages (default: the createRoot option is false). */
  private readonly notCreatedBecause: Wording

  constructor(
    readonly path: string,
    init: Pick<FilesystemDriverInit, 'createRoot' | 'notCreatedBecause'>
  ) {
    this.creatable = init.createRoot ?? true
    const { notCreatedBecause } = init
    this.notCreatedBecause = name => notCreatedBecause ?? `${name('createRoot')} is false`
  }

  /**
   * True if the root is there and is the directory seen before; false if it is missing and the
   * library's to create (nothing was stored yet). Anything else throws `ERR_STORAGE_UNAVAILABLE`.
   */
  check(): boolean {
    let stats
    try {
      stats = statSync(this.path) // microseconds: a miss, or a new shard directory, costs no round trip
    } catch (err) {
      if (isMissing(err) && this.creatable && this.identity === undefined) return false
      if (isMissing(err))
        throw this.unavailable(
          this.identity === undefined
            ? name => `does not exist (${this.notCreatedBecause(name)}: is the array mounted?)`
            : 'has disappeared (unmounted?)',
          err
        )
      throw StorageUnavailableError.fromSystemError(err as NodeJS.ErrnoException, this.path, 'root')
    }
    if (!stats.isDirectory()) throw this.unavailable('is not a directory')
    if (this.identity === undefined) this.identity = { dev: stats.dev, ino: stats.ino }
    else if (this.identity.dev !== stats.dev || this.identity.ino !== stats.ino)
      throw this.unavailable('is no longer the directory it was (unmounted, or replaced)')
    return true
  }

  /** Like `check`, for a root that must be there now. */
  require(): void {
    if (!this.check()) throw this.unavailable('does not exist')
  }

  /** An OS error met in the store, as `ERR_STORAGE_UNAVAILABLE` naming the option that moves it (`root`). */
  failure(err: NodeJS.ErrnoException, path = this.path): StorageUnavailableError {
    return StorageUnavailableError.fromSystemError(err, path, 'root')
  }

  private unavailable(why: string | Wording, cause?: unknown): StorageUnavailableError {
    const said: Wording = name => (typeof why === 'string' ? why : why(name))
    return aboutOption(
      'root',
      name => `Image storage unavailable: the root ${this.path} ${said(name)}. Check the mount or set ${name('root')}.`,
      message => new StorageUnavailableError(message, this.path, { cause })
    )
  }
}
