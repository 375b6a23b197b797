/**
 * The drivers' settings from the environment (`SAI_IMAGE_STORAGE_*`, `SAI_S3_*`, `SAI_IPFS_*`),
 * each validated: a malformed value is `ERR_CONFIG` naming the variable, never a silent default.
 * Unset variables are left out, so that defaults apply. Every variable the library reads is named
 * in this folder or beside the feature that reads it, and in the README's table (a test checks).
 */
import type { FilesystemDriverInit } from '../../drivers/fs/index.js'
import type { IpfsDriverInit } from '../../drivers/ipfs/index.js'
import type { S3DriverInit } from '../../drivers/s3/index.js'
import { ConfigError } from '../../core/errors.js'
import {
  defined,
  readAuth,
  readBoolean,
  readInteger,
  readMode,
  readString,
  readUrl,
  type Env
} from '../../core/config.js'
import { PrefixSharding } from '../../core/sharding.js'

export function limitsConfig(env: Env = process.env): { maxBytes?: number; allowNonImage?: boolean } {
  return defined({
    maxBytes: readInteger(env, 'SAI_IMAGE_STORAGE_MAX_BYTES', 1),
    allowNonImage: readBoolean(env, 'SAI_IMAGE_STORAGE_ALLOW_NON_IMAGE')
  })
}

/** `FilesystemDriverInit` from `SAI_IMAGE_STORAGE_*`; unset variables are left out. */
export function filesystemConfig(env: Env = process.env): FilesystemDriverInit {
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
export function ipfsConfig(env: Env = process.env): IpfsDriverInit {
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
export function s3Config(env: Env = process.env): Partial<S3DriverInit> {
  const accessKeyId = readString(env, 'SAI_S3_ACCESS_KEY_ID')
  const secretAccessKey = readString(env, 'SAI_S3_SECRET_ACCESS_KEY')
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(
      accessKeyId === undefined ? 'SAI_S3_ACCESS_KEY_ID' : 'SAI_S3_SECRET_ACCESS_KEY',
      'set both SAI_S3_ACCESS_KEY_ID and SAI_S3_SECRET_ACCESS_KEY, or neither (the values are not shown)'
    )
  }
  const region = readString(env, 'SAI_S3_REGION')
  if (region !== undefined && !/^[a-z0-9-]{1,64}$/.test(region))
    throw new ConfigError('SAI_S3_REGION', `expected a region such as us-east-1, got ${JSON.stringify(region)}`)
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

/** Every `SAI_IMAGE_STORAGE_*` variable the library reads. */
export const STORAGE_VARIABLES = [
  'DRIVER',
  'PATH',
  'SHARD_DEPTH',
  'SHARD_WIDTH',
  'FILE_MODE',
  'DIR_MODE',
  'FSYNC',
  'CREATE_ROOT',
  'MAX_BYTES',
  'ALLOW_NON_IMAGE',
  'REPLICAS',
  'REPLICA_PATH',
  'REPLICATION_PATH',
  'REPLICATE_IN_BACKGROUND',
  'ACK'
].map(name => `SAI_IMAGE_STORAGE_${name}`)

/**
 * A `SAI_IMAGE_STORAGE_*` variable the library does not read is a typo (FSYNC spelt FSNYC): refused,
 * naming the closest one, rather than its setting left at the default without a word.
 */
export function refuseUnknownVariables(env: Env): void {
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SAI_IMAGE_STORAGE_') || STORAGE_VARIABLES.includes(name)) continue
    const closest = STORAGE_VARIABLES.map(known => ({ known, d: distance(name, known) })).sort((a, b) => a.d - b.d)[0]!
    const hint = closest.d <= 3 ? `: did you mean ${closest.known}?` : ''
    throw new ConfigError(name, `is no setting of sai-image-storage${hint} (the README's Environment lists them)`)
  }
}

/** Levenshtein's distance between two names. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    row = next
  }
  return row[b.length]!
}
