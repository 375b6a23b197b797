/**
 * Stores each image once, at `{root}/{h[0:2]}/{h[2:4]}/{h}.jpg` where h is its SHA-256 hex: the
 * layout the Python service writes, so both can share one store. Durable before `store` resolves
 * (write.ts); every read re-hashed; an unmounted root is unavailable, never empty (StoreRoot, store.ts).
 *
 * @example
 * ```ts
 * const storage = new FilesystemDriver({ root: '/mnt/raid/images' })
 * const { hash, key, isDuplicate } = await storage.store(jpegBuffer)
 * const bytes = await storage.fetch(hash) // verified
 * ```
 */
import { resolve } from 'node:path'
import { shown } from '../../core/checks.js'
import { ConfigError } from '../../core/errors.js'
import { StorageFront } from '../../core/front.js'
import type { StoreMarks } from '../../core/marks.js'
import { PrefixSharding, type ShardingStrategy } from '../../core/sharding.js'
import { FilesystemAdapter, type ObjectFile } from './adapter.js'
import { StoreDirs } from './write.js'
import { DEFAULT_ROOT, type FilesystemDriverInit } from './init.js'
import { filesystemMarks } from './marks.js'
import { FilesystemQuarantine } from './quarantine.js'
import { StoreLayout } from './layout.js'
import { StoreRoot } from './store.js'

export { DEFAULT_ROOT, type FilesystemDriverInit } from './init.js'

type Capability<Name extends 'deleteIfNotRenewed' | 'verify'> = NonNullable<StorageFront<ObjectFile>[Name]>

export class FilesystemDriver extends StorageFront<ObjectFile> {
  declare readonly root: string
  declare readonly quarantine: FilesystemQuarantine
  declare readonly deleteIfNotRenewed: Capability<'deleteIfNotRenewed'>
  declare readonly verify: Capability<'verify'>
  readonly sharding: ShardingStrategy
  /** A replica's owner and other small texts, under `{root}/.marks/` (features/replication/owner.ts). */
  readonly marks: StoreMarks

  constructor(init: FilesystemDriverInit = {}) {
    if (init.root !== undefined && (typeof init.root !== 'string' || init.root === ''))
      throw ConfigError.forOption('root', `expected a folder, got ${shown(init.root)}`) // '' is the working folder
    const root = resolve(init.root ?? DEFAULT_ROOT)
    const sharding = init.sharding ?? new PrefixSharding()
    const fsync = init.fsync ?? true
    const watched = new StoreRoot(root, init)
    const layout = new StoreLayout(root, sharding)
    const dirs = new StoreDirs(watched, { dirMode: init.dirMode, fsync, layout })
    const quarantine = new FilesystemQuarantine(watched, sharding, dirs, fsync)
    const parts = { root, sharding, fsync, watched, layout, dirs, quarantine }
    super(new FilesystemAdapter(parts, init), init)
    this.sharding = sharding
    this.marks = filesystemMarks(watched, dirs)
  }
}

export type { VerifyOptions, VerifyReport } from '../../core/verify-report.js'
export type { Quarantine, QuarantineEntry } from '../../core/types.js'
export {
  PrefixSharding,
  type PrefixShardingInit,
  type ShardingDescriptor,
  type ShardingStrategy
} from '../../core/sharding.js'
