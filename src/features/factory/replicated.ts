/**
 * Replication from the environment: `SAI_IMAGE_STORAGE_REPLICAS=s3` (or `ipfs`, `fs`, several with
 * commas), each replica configured by its own driver's variables (`SAI_S3_*`, `SAI_IPFS_*`;
 * `SAI_IMAGE_STORAGE_REPLICA_PATH` for a second filesystem), validated (`ERR_CONFIG`).
 */
import { FilesystemDriver } from '../../drivers/fs/index.js'
import { IpfsDriver } from '../../drivers/ipfs/index.js'
import { S3Driver, type S3DriverInit } from '../../drivers/s3/index.js'
import { ConfigError } from '../../core/errors.js'
import { readBoolean, readChoice, readString, type Env } from '../../core/config.js'
import type { Logger } from '../../core/logger.js'
import type { ImageStorage } from '../../core/types.js'
import { createReplicatedStorage, type Replica, type ReplicatedStorage } from '../replication/index.js'
import { filesystemConfig, ipfsConfig, limitsConfig, s3Config } from './env.js'
import { named, replicaNames, withNames } from './settings.js'

const KINDS = ['s3', 'ipfs', 'fs'] as const

/** The replicas `SAI_IMAGE_STORAGE_REPLICAS` names, or undefined when it is unset. */
export function replicasFromEnv(primary: ImageStorage, env: Env): Replica[] | undefined {
  const names = readString(env, 'SAI_IMAGE_STORAGE_REPLICAS')
    ?.split(',')
    .map(name => name.trim())
    .filter(name => name !== '')
  if (names === undefined || names.length === 0) return undefined
  const limits = limitsConfig(env)
  return names.map(name => {
    if (!(KINDS as readonly string[]).includes(name))
      throw new ConfigError(
        'SAI_IMAGE_STORAGE_REPLICAS',
        `expected s3, ipfs or fs (comma-separated), got ${JSON.stringify(name)}`
      )
    if (name === primary.driver && name !== 'fs')
      throw new ConfigError(
        'SAI_IMAGE_STORAGE_REPLICAS',
        `the ${name} replica would be the primary itself (both read SAI_${name.toUpperCase()}_*)`
      )
    const settings = replicaNames(name as (typeof KINDS)[number])
    try {
      return { name, storage: withNames(replicaFromEnv(name, primary, env, limits), settings) }
    } catch (err) {
      throw named(err, settings) // a wrong option of a replica is named by its variable
    }
  })
}

function replicaFromEnv(name: string, primary: ImageStorage, env: Env, limits: object): ImageStorage {
  if (name === 's3') {
    const init = { ...limits, ...s3Config(env) } as Partial<S3DriverInit>
    if (init.bucket === undefined) throw new ConfigError('SAI_S3_BUCKET', 'the s3 replica needs a bucket')
    return new S3Driver(init as S3DriverInit)
  }
  if (name === 'ipfs') return new IpfsDriver({ ...limits, ...ipfsConfig(env) })
  const root = readString(env, 'SAI_IMAGE_STORAGE_REPLICA_PATH')
  if (root === undefined)
    throw new ConfigError(
      'SAI_IMAGE_STORAGE_REPLICA_PATH',
      'the fs replica needs its own root (a second disk or a mount)'
    )
  if (primary.root !== undefined && new FilesystemDriver({ root }).root === primary.root)
    throw new ConfigError('SAI_IMAGE_STORAGE_REPLICA_PATH', 'the fs replica would be the primary itself')
  const { root: _ignored, ...fs } = filesystemConfig(env)
  return new FilesystemDriver({
    ...limits,
    ...fs,
    root,
    createRoot: false,
    notCreatedBecause: "an fs replica's root is never created"
  })
}

/** The replicated store over `primary` with `replicas`, its other settings from the environment. */
export function replicated(
  primary: ImageStorage,
  replicas: Replica[],
  env: Env,
  logger?: Logger,
  concurrency?: number
): ReplicatedStorage {
  const ack = readChoice(env, 'SAI_IMAGE_STORAGE_ACK', ['1', '2'] as const)
  return createReplicatedStorage({
    primary,
    replicas,
    stateDir: readString(env, 'SAI_IMAGE_STORAGE_REPLICATION_PATH'),
    ack: ack === undefined ? undefined : (Number(ack) as 1 | 2),
    background: readBoolean(env, 'SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND'),
    logger,
    concurrency
  })
}
