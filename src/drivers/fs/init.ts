/** The filesystem driver's options, with their defaults. */
import type { LimitsInit } from '../../core/input.js'
import type { Logger } from '../../core/logger.js'
import type { ShardingStrategy } from '../../core/sharding.js'

export const DEFAULT_ROOT = './data/images'

export interface FilesystemDriverInit extends LimitsInit {
  /** Default `./data/images`, resolved against the working directory. */
  root?: string
  /** Default: storage.py's layout, depth 2, width 2. */
  sharding?: ShardingStrategy
  /** Exact mode of new objects (e.g. `0o664`). Default: 0o666 less the umask. */
  fileMode?: number
  /** Exact mode of new directories (e.g. `0o2775`). Default: 0o777 less the umask. */
  dirMode?: number
  /** Default true. False skips every fsync: faster, and a power cut may leave empty or missing objects. */
  fsync?: boolean
  /** Default true. False: a missing root is `ERR_STORAGE_UNAVAILABLE` (a mount that is not there). */
  createRoot?: boolean
  /**
   * Why a missing root is not created, for that message, where `createRoot: false` is no setting of
   * the user's (an fs replica's root). Default: "{the createRoot setting} is false".
   */
  notCreatedBecause?: string
  /** Told of background failures (a temp file that could not be removed); silent without one. */
  logger?: Logger
}
