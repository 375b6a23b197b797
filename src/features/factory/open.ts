/**
 * `createImageStorage`, loading only what its settings name: the primary's driver, and the replicas'
 * drivers and replication only when replicas are named. `sai-images` opens its stores this way, so that
 * a command loads no driver it does not use (each is a chunk of the CLI's bundle, bench/RESULTS-replication-cli.md).
 * A setting that names no known driver loads nothing: `createFrom` then refuses it exactly as before.
 */
import { readString, type Env } from '../../core/config.js'
import type { ImageStorage } from '../../core/types.js'
import type { DriverClasses } from './classes.js'
import { createFrom, type CreateImageStorageOptions, type FactoryOptions } from './create.js'

const LOADERS: { [K in keyof DriverClasses]-?: () => Promise<NonNullable<DriverClasses[K]>> } = {
  fs: async () => (await import('../../drivers/fs/index.js')).FilesystemDriver,
  memory: async () => (await import('../../drivers/memory/index.js')).MemoryDriver,
  ipfs: async () => (await import('../../drivers/ipfs/index.js')).IpfsDriver,
  s3: async () => (await import('../../drivers/s3/index.js')).S3Driver,
  replicated: async () => (await import('../replication/index.js')).createReplicatedStorage
}

function isKnown(name: string): name is keyof DriverClasses {
  return Object.hasOwn(LOADERS, name)
}

/** What `createFrom` will ask for with these settings (the names it would refuse are left out: it refuses them). */
function wanted(options: CreateImageStorageOptions & FactoryOptions, env: Env): Set<keyof DriverClasses> {
  const names = [options.driver ?? readString(env, 'SAI_IMAGE_STORAGE_DRIVER') ?? 'fs']
  if (Array.isArray(options.replicas)) names.push('replicated')
  if (options.replicas === undefined) {
    const replicas = (readString(env, 'SAI_IMAGE_STORAGE_REPLICAS') ?? '').split(',').map(name => name.trim())
    for (const name of replicas.filter(name => name !== '')) names.push(name, 'replicated')
  }
  return new Set(names.filter(isKnown))
}

/**
 * Starts loading what `openImageStorage(options, env)` will, without waiting for it: a caller that will open
 * the store after loading code of its own loads both at once. A failure is left for `openImageStorage` to throw.
 */
export function preloadImageStorage(options: CreateImageStorageOptions & FactoryOptions = {}, env: Env = process.env) {
  for (const name of wanted(options, env)) LOADERS[name]().catch(() => undefined)
}

/** The store `createImageStorage(options, env)` makes, its drivers loaded on demand. */
export async function openImageStorage(
  options: CreateImageStorageOptions & FactoryOptions = {},
  env: Env = process.env
): Promise<ImageStorage> {
  const classes: DriverClasses = {}
  await Promise.all(
    [...wanted(options, env)].map(async name => {
      Object.assign(classes, { [name]: await LOADERS[name]() })
    })
  )
  return createFrom(classes, options, env)
}
