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
import { FilesystemDriver, type FilesystemDriverInit } from '../drivers/fs/index.js'
import { IpfsDriver, type IpfsDriverInit } from '../drivers/ipfs/index.js'
import { MemoryDriver, type MemoryDriverInit } from '../drivers/memory.js'
import { S3Driver, type S3DriverInit } from '../drivers/s3/index.js'
import { ConfigError } from './core/errors.js'
import { defined, readAuth, readBoolean, readChoice, readInteger, readMode, readString, readUrl, type Env } from './core/config.js'
import { PrefixSharding } from './core/sharding.js'
import type { ImageStorage } from './core/types.js'

export const DRIVERS = ['fs', 'memory', 'ipfs', 's3'] as const
export type DriverName = typeof DRIVERS[number]

export type CreateImageStorageOptions =
  | ({ driver?: 'fs' } & FilesystemDriverInit)
  | ({ driver: 'memory' } & MemoryDriverInit)
  | ({ driver: 'ipfs' } & IpfsDriverInit)
  | ({ driver: 's3' } & Partial<S3DriverInit>)

export function createImageStorage (options: CreateImageStorageOptions = {}, env: Env = process.env): ImageStorage {
  const driver = options.driver ?? readChoice(env, 'SAI_IMAGE_STORAGE_DRIVER', DRIVERS) ?? 'fs'
  const limits = {
    maxBytes: readInteger(env, 'SAI_IMAGE_STORAGE_MAX_BYTES', 1),
    allowNonImage: readBoolean(env, 'SAI_IMAGE_STORAGE_ALLOW_NON_IMAGE')
  }
  if (driver === 'memory') return new MemoryDriver({ ...limits, ...options })
  if (driver === 'ipfs') return new IpfsDriver({ ...limits, ...ipfsConfig(env), ...options })
  if (driver === 's3') {
    const init = { ...limits, ...s3Config(env), ...options } as Partial<S3DriverInit>
    if (init.bucket === undefined) throw new ConfigError('SAI_S3_BUCKET', 'the s3 driver needs a bucket')
    return new S3Driver(init as S3DriverInit)
  }
  return new FilesystemDriver({ ...limits, ...filesystemConfig(env), ...options })
}

/** `FilesystemDriverInit` from `SAI_IMAGE_STORAGE_*`; unset variables are left out. */
export function filesystemConfig (env: Env = process.env): FilesystemDriverInit {
  const depth = readInteger(env, 'SAI_IMAGE_STORAGE_SHARD_DEPTH', 0, 8)
  const width = readInteger(env, 'SAI_IMAGE_STORAGE_SHARD_WIDTH', 1, 8)
  return defined({
    root: readString(env, 'SAI_IMAGE_STORAGE_PATH'),
    fileMode: readMode(env, 'SAI_IMAGE_STORAGE_FILE_MODE'),
    dirMode: readMode(env, 'SAI_IMAGE_STORAGE_DIR_MODE'),
    fsync: readBoolean(env, 'SAI_IMAGE_STORAGE_FSYNC'),
    createRoot: readBoolean(env, 'SAI_IMAGE_STORAGE_CREATE_ROOT'),
    sharding: depth === undefined && width === undefined ? undefined : new PrefixSharding({ depth, width })
  })
}

/** `IpfsDriverInit` from `SAI_IPFS_*`; unset variables are left out. */
export function ipfsConfig (env: Env = process.env): IpfsDriverInit {
  return defined({
    url: readUrl(env, 'SAI_IPFS_API_URL'),
    auth: readAuth(env, 'SAI_IPFS_AUTH'),
    timeoutMs: readInteger(env, 'SAI_IPFS_TIMEOUT_MS', 1),
    gatewayUrl: readUrl(env, 'SAI_IPFS_GATEWAY_URL'),
    indexPath: readString(env, 'SAI_IPFS_INDEX_PATH')
  })
}

/**
 * `S3DriverInit` from `SAI_S3_*`; unset variables are left out. Without both keys the SDK's own
 * credential chain applies (AWS_* variables, ~/.aws, instance roles). Secrets are never echoed.
 */
export function s3Config (env: Env = process.env): Partial<S3DriverInit> {
  const accessKeyId = readString(env, 'SAI_S3_ACCESS_KEY_ID')
  const secretAccessKey = readString(env, 'SAI_S3_SECRET_ACCESS_KEY')
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(accessKeyId === undefined ? 'SAI_S3_ACCESS_KEY_ID' : 'SAI_S3_SECRET_ACCESS_KEY', 'set both SAI_S3_ACCESS_KEY_ID and SAI_S3_SECRET_ACCESS_KEY, or neither (the values are not shown)')
  }
  const region = readString(env, 'SAI_S3_REGION')
  if (region !== undefined && !/^[a-z0-9-]{1,64}$/.test(region)) throw new ConfigError('SAI_S3_REGION', `expected a region such as us-east-1, got ${JSON.stringify(region)}`)
  return defined({
    endpoint: readUrl(env, 'SAI_S3_ENDPOINT'),
    bucket: readString(env, 'SAI_S3_BUCKET'),
    region,
    prefix: readString(env, 'SAI_S3_PREFIX'),
    credentials: accessKeyId === undefined ? undefined : { accessKeyId, secretAccessKey: secretAccessKey! },
    forcePathStyle: readBoolean(env, 'SAI_S3_FORCE_PATH_STYLE'),
    timeoutMs: readInteger(env, 'SAI_S3_TIMEOUT_MS', 1)
  })
}

let defaultStorage: ImageStorage | undefined

/** The counterpart of storage.py's module singleton: created from the environment on first use. */
export const imageStorage: ImageStorage = {
  get driver () { return current().driver },
  store: async (input, options) => await current().store(input, options),
  fetch: async (ref, options) => await current().fetch(ref, options),
  fetchStream: async (ref, options) => await current().fetchStream(ref, options),
  exists: async (ref, options) => await current().exists(ref, options),
  stat: async (ref, options) => await current().stat(ref, options),
  delete: async (ref, options) => await current().delete(ref, options),
  list: (options) => current().list(options),
  pathOf: (ref) => current().pathOf(ref),
  keyOf: (ref) => current().keyOf(ref),
  close: async () => {
    const storage = defaultStorage
    defaultStorage = undefined
    await storage?.close()
  }
}

function current (): ImageStorage {
  defaultStorage ??= createImageStorage()
  return defaultStorage
}
