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
import { FilesystemDriver, type FilesystemDriverInit } from '../../drivers/fs/index.js'
import { IpfsDriver, type IpfsDriverInit } from '../../drivers/ipfs/index.js'
import { MemoryDriver, type MemoryDriverInit } from '../../drivers/memory/index.js'
import { S3Driver, type S3DriverInit } from '../../drivers/s3/index.js'
import { checkChoice, checkWhole } from '../../core/checks.js'
import { ConfigError } from '../../core/errors.js'
import { readChoice, type Env } from '../../core/config.js'
import type { Logger } from '../../core/logger.js'
import type { ImageStorage } from '../../core/types.js'
import type { Replica } from '../replication/index.js'
import { filesystemConfig, ipfsConfig, limitsConfig, refuseUnknownVariables, s3Config } from './env.js'
import { replicasFromEnv, replicated } from './replicated.js'
import { named, settingNamesFor, withNames, type SettingNames } from './settings.js'

export { filesystemConfig, ipfsConfig, s3Config } from './env.js'

export const DRIVERS = ['fs', 'memory', 'ipfs', 's3'] as const
export type DriverName = (typeof DRIVERS)[number]

export type CreateImageStorageOptions =
  | ({ driver?: 'fs' } & FilesystemDriverInit)
  | ({ driver: 'memory' } & MemoryDriverInit)
  | ({ driver: 'ipfs' } & IpfsDriverInit)
  | ({ driver: 's3' } & Partial<S3DriverInit>)

export interface FactoryOptions {
  /** Told of background work and its failures; silent without one. */
  logger?: Logger
  /**
   * Replicas of the store (see `createReplicatedStorage`); default: those `SAI_IMAGE_STORAGE_REPLICAS`
   * names. `false`: none.
   */
  replicas?: Replica[] | false
  /**
   * How messages name the options set neither in code nor by a variable: the CLI gives its flags
   * (`{ root: '--root' }`). Otherwise an option given in code is named as such (`the root option`),
   * one from the environment by its variable (features/factory/settings.ts).
   */
  settingNames?: SettingNames
  /** Copies at once in a replicated store's drain (`ReplicatedStorageInit.concurrency`); default 4. */
  copyConcurrency?: number
}

/**
 * The driver named by `options.driver`, else `SAI_IMAGE_STORAGE_DRIVER`, else `fs`, configured from
 * both; replicated when replicas are given or named by `SAI_IMAGE_STORAGE_REPLICAS`.
 */
export function createImageStorage(
  options: CreateImageStorageOptions & FactoryOptions = {},
  env: Env = process.env
): ImageStorage {
  refuseUnknownVariables(env)
  // checked whether replicas are named or not: `SAI_IMAGE_STORAGE_ACK=two` is a mistake either way
  const ack = readChoice(env, 'SAI_IMAGE_STORAGE_ACK', ['1', '2'] as const)
  const { replicas, logger, settingNames, copyConcurrency, ...driverOptions } = options
  checkWhole('copyConcurrency', copyConcurrency)
  const primary = createDriver(driverOptions as CreateImageStorageOptions, env, logger, settingNames)
  const copies = replicas === false ? undefined : (replicas ?? replicasFromEnv(primary, env))
  // two acknowledged copies with one store would be a promise nobody keeps
  if (replicas !== false && (copies === undefined || copies.length === 0) && ack === '2') {
    throw new ConfigError(
      'SAI_IMAGE_STORAGE_ACK',
      "is 2 (a store waits for a replica's copy), but no replica is configured: " +
        'name one with SAI_IMAGE_STORAGE_REPLICAS, or set it to 1'
    )
  }
  return copies === undefined ? primary : replicated(primary, copies, env, logger, copyConcurrency)
}

function createDriver(
  options: CreateImageStorageOptions,
  env: Env,
  logger?: Logger,
  callerNames?: SettingNames
): ImageStorage {
  checkChoice('driver', options.driver, DRIVERS) // from JavaScript or a config file: 'S3' is no filesystem
  const driver = options.driver ?? readChoice(env, 'SAI_IMAGE_STORAGE_DRIVER', DRIVERS) ?? 'fs'
  // (a driver's settingNames, deprecated: the caller's names, until the option goes)
  const { settingNames: deprecated, ...inCode } = options
  const names = settingNamesFor(driver, inCode, callerNames ?? deprecated)
  const limits = limitsConfig(env)
  try {
    return withNames(makeDriver(driver, { ...limits, ...inCode } as CreateImageStorageOptions, env, logger), names)
  } catch (err) {
    throw named(err, names)
  }
}

function makeDriver(driver: DriverName, options: CreateImageStorageOptions, env: Env, logger?: Logger): ImageStorage {
  if (driver === 'memory') return new MemoryDriver(options as MemoryDriverInit)
  if (driver === 'ipfs') return new IpfsDriver({ ...ipfsConfig(env), ...(options as IpfsDriverInit) })
  if (driver === 's3') {
    const init = { ...s3Config(env), ...options } as Partial<S3DriverInit>
    if (init.bucket === undefined) throw ConfigError.forOption('bucket', 'the s3 driver needs a bucket')
    return new S3Driver(init as S3DriverInit)
  }
  return new FilesystemDriver({ ...filesystemConfig(env), ...(options as FilesystemDriverInit), logger })
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
