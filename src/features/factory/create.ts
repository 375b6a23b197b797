/**
 * The factory's work, given the driver classes it may use: `createImageStorage` (index.ts) gives it
 * every driver, loaded with the library; `openImageStorage` (open.ts) only those the settings name,
 * loaded when asked, so that a command of `sai-images` loads no driver it does not use.
 */
import type { FilesystemDriverInit } from '../../drivers/fs/index.js'
import type { IpfsDriverInit } from '../../drivers/ipfs/index.js'
import type { MemoryDriverInit } from '../../drivers/memory/index.js'
import type { S3DriverInit } from '../../drivers/s3/index.js'
import { ConfigError } from '../../core/errors.js'
import { readChoice, readString, type Env } from '../../core/config.js'
import type { Logger } from '../../core/logger.js'
import type { ImageStorage } from '../../core/types.js'
import type { Replica } from '../replication/index.js'
import { classOf, type DriverClasses } from './classes.js'
import { filesystemConfig, ipfsConfig, limitsConfig, s3Config } from './env.js'
import { replicasFromEnv, replicated } from './replicated.js'
import { named, settingNamesFor, withNames, type SettingNames } from './settings.js'

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
}

/** `createImageStorage` with the driver classes given (see index.ts). */
export function createFrom(
  classes: DriverClasses,
  options: CreateImageStorageOptions & FactoryOptions = {},
  env: Env = process.env
): ImageStorage {
  const { replicas, logger, settingNames, ...driverOptions } = options
  const primary = createDriver(classes, driverOptions as CreateImageStorageOptions, env, logger, settingNames)
  const copies = replicas === false ? undefined : (replicas ?? replicasFromEnv(primary, env, classes))
  // two acknowledged copies with one store would be a promise nobody keeps
  if (
    replicas !== false &&
    (copies === undefined || copies.length === 0) &&
    readString(env, 'SAI_IMAGE_STORAGE_ACK') === '2'
  ) {
    throw new ConfigError(
      'SAI_IMAGE_STORAGE_ACK',
      "is 2 (a store waits for a replica's copy), but no replica is configured: " +
        'name one with SAI_IMAGE_STORAGE_REPLICAS, or set it to 1'
    )
  }
  return copies === undefined ? primary : replicated(primary, copies, env, classes, logger)
}

function createDriver(
  classes: DriverClasses,
  options: CreateImageStorageOptions,
  env: Env,
  logger?: Logger,
  callerNames?: SettingNames
): ImageStorage {
  const driver = options.driver ?? readChoice(env, 'SAI_IMAGE_STORAGE_DRIVER', DRIVERS) ?? 'fs'
  // (a driver's settingNames, deprecated: the caller's names, until the option goes)
  const { settingNames: deprecated, ...inCode } = options
  const names = settingNamesFor(driver, inCode, callerNames ?? deprecated)
  const limits = limitsConfig(env)
  try {
    const made = makeDriver(classes, driver, { ...limits, ...inCode } as CreateImageStorageOptions, env, logger)
    return withNames(made, names)
  } catch (err) {
    throw named(err, names)
  }
}

function makeDriver(
  classes: DriverClasses,
  driver: DriverName,
  options: CreateImageStorageOptions,
  env: Env,
  logger?: Logger
): ImageStorage {
  if (driver === 'memory') return new (classOf(classes, 'memory'))(options as MemoryDriverInit)
  if (driver === 'ipfs') return new (classOf(classes, 'ipfs'))({ ...ipfsConfig(env), ...(options as IpfsDriverInit) })
  if (driver === 's3') {
    const init = { ...s3Config(env), ...options } as Partial<S3DriverInit>
    if (init.bucket === undefined) throw ConfigError.forOption('bucket', 'the s3 driver needs a bucket')
    return new (classOf(classes, 's3'))(init as S3DriverInit)
  }
  return new (classOf(classes, 'fs'))({ ...filesystemConfig(env), ...(options as FilesystemDriverInit), logger })
}
