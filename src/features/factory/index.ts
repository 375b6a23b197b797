/**
 * Picks and configures the driver from options and the environment. Options win over the
 * environment; nothing touches the disk or the network until the first call.
 *
 * @example
 * ```ts
 * const storage = createImageStorage()                       // SAI_IMAGE_STORAGE_* or ./data/images
 * const memory = createImageStorage({ driver: 'memory' })    // for tests
 * ```
 */
import { FilesystemDriver } from '../../drivers/fs/index.js'
import { IpfsDriver } from '../../drivers/ipfs/index.js'
import { MemoryDriver } from '../../drivers/memory/index.js'
import { S3Driver } from '../../drivers/s3/index.js'
import type { Env } from '../../core/config.js'
import type { ImageStorage } from '../../core/types.js'
import { createReplicatedStorage } from '../replication/index.js'
import type { DriverClasses } from './classes.js'
import { createFrom, type CreateImageStorageOptions, type FactoryOptions } from './create.js'

export { filesystemConfig, ipfsConfig, s3Config } from './env.js'
export { DRIVERS, type CreateImageStorageOptions, type DriverName, type FactoryOptions } from './create.js'
export type { DriverClasses } from './classes.js'

/** Every driver, loaded with the library: `createImageStorage` makes any store synchronously. */
export const ALL_DRIVERS: DriverClasses = {
  fs: FilesystemDriver,
  memory: MemoryDriver,
  ipfs: IpfsDriver,
  s3: S3Driver,
  replicated: createReplicatedStorage
}

/**
 * The driver named by `options.driver`, else `SAI_IMAGE_STORAGE_DRIVER`, else `fs`, configured from
 * both; replicated when replicas are given or named by `SAI_IMAGE_STORAGE_REPLICAS`.
 */
export function createImageStorage(
  options: CreateImageStorageOptions & FactoryOptions = {},
  env: Env = process.env
): ImageStorage {
  return createFrom(ALL_DRIVERS, options, env)
}

let defaultStorage: ImageStorage | undefined

function current(): ImageStorage {
  defaultStorage ??= createImageStorage()
  return defaultStorage
}

/**
 * The counterpart of storage.py's module singleton: the store `createImageStorage()` makes from
 * the environment, created on first use. Every member of that store is its member, by
 * construction (a proxy): a method, a capability (`deleteIfNotRenewed`, `root`, `url`...) alike.
 * `close()` closes it; the next call makes a new one.
 */
export const imageStorage: ImageStorage = new Proxy({} as ImageStorage, {
  get(_target, property) {
    if (property === 'close') return closeDefault
    if (property === 'then') return undefined // not a promise: awaiting it must not create the store
    const storage = current()
    const value: unknown = Reflect.get(storage, property, storage)
    return typeof value === 'function' ? value.bind(storage) : value
  },
  has(_target, property) {
    return property in current()
  }
})

async function closeDefault(): Promise<void> {
  const storage = defaultStorage
  defaultStorage = undefined
  await storage?.close()
}
