/**
 * The store's root, watched: an unmounted array must never read as an empty store. The root is
 * checked where a lookup misses (costing nothing on the hits), and its identity (device and inode)
 * is remembered, so that a root that disappears or is replaced while the process runs (an unmount
 * leaves the bare mount point behind) is `ERR_STORAGE_UNAVAILABLE`, not "not found".
 */
import { statSync } from 'node:fs'
import { isMissing, settingName, StorageUnavailableError } from '../../core/errors.js'
import type { FilesystemDriverInit } from './init.js'

export class StoreRoot {
  private identity?: { dev: number; ino: number }

  /** `creatable`: a missing root is the library's to make (until it has been seen once). */
  private readonly creatable: boolean
  /** How messages name the root setting (`--root`...), and why a missing root is not created. */
  private readonly names: { root: string; notCreatedBecause: string }

  constructor(
    readonly path: string,
    init: Pick<FilesystemDriverInit, 'createRoot' | 'notCreatedBecause' | 'settingNames'>
  ) {
    this.creatable = init.createRoot ?? true
    const notCreatedBecause = init.notCreatedBecause ?? `${settingName(init.settingNames, 'createRoot')} is false`
    this.names = { root: settingName(init.settingNames, 'root'), notCreatedBecause }
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
            ? `does not exist (${this.names.notCreatedBecause}: is the array mounted?)`
            : 'has disappeared (unmounted?)',
          err
        )
      throw StorageUnavailableError.fromSystemError(err as NodeJS.ErrnoException, this.path, this.names.root)
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

  /** An OS error met in the store, as `ERR_STORAGE_UNAVAILABLE` naming the setting that moves it. */
  failure(err: NodeJS.ErrnoException, path = this.path): StorageUnavailableError {
    return StorageUnavailableError.fromSystemError(err, path, this.names.root)
  }

  private unavailable(why: string, cause?: unknown): StorageUnavailableError {
    return new StorageUnavailableError(
      `Image storage unavailable: the root ${this.path} ${why}. Check the mount or set ${this.names.root}.`,
      this.path,
      { cause }
    )
  }
}
