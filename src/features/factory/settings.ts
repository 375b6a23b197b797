/**
 * How messages name a setting, decided here and nowhere else: an option given in code by its own
 * name (`the root option`), one that came from (or is missing in) the environment by its variable,
 * one from a flag of `sai-images` by the flag. A driver's errors carry the option's name
 * (`ConfigError.option`); the factory names them again with `named`, and hands a driver the names
 * its messages at run time use (`settingNames`: a store's root that is not there, say).
 */
import { ConfigError, type SettingNames } from '../../core/errors.js'

/** Each option's variable, when its value comes from (or would come from) the environment. */
export const ENV_NAMES = {
  // allowNonImage is also an option of each store(): a library's caller is told of the option first
  limits: {
    maxBytes: 'SAI_IMAGE_STORAGE_MAX_BYTES',
    allowNonImage: 'the allowNonImage option (or SAI_IMAGE_STORAGE_ALLOW_NON_IMAGE)'
  },
  fs: {
    root: 'SAI_IMAGE_STORAGE_PATH',
    fileMode: 'SAI_IMAGE_STORAGE_FILE_MODE',
    dirMode: 'SAI_IMAGE_STORAGE_DIR_MODE',
    fsync: 'SAI_IMAGE_STORAGE_FSYNC',
    createRoot: 'SAI_IMAGE_STORAGE_CREATE_ROOT',
    sharding: 'SAI_IMAGE_STORAGE_SHARD_DEPTH and SAI_IMAGE_STORAGE_SHARD_WIDTH'
  },
  s3: {
    bucket: 'SAI_S3_BUCKET',
    endpoint: 'SAI_S3_ENDPOINT',
    region: 'SAI_S3_REGION',
    prefix: 'SAI_S3_PREFIX',
    credentials: 'SAI_S3_ACCESS_KEY_ID and SAI_S3_SECRET_ACCESS_KEY',
    forcePathStyle: 'SAI_S3_FORCE_PATH_STYLE',
    timeoutMs: 'SAI_S3_TIMEOUT_MS'
  },
  ipfs: {
    url: 'SAI_IPFS_API_URL',
    auth: 'SAI_IPFS_AUTH',
    timeoutMs: 'SAI_IPFS_TIMEOUT_MS',
    gatewayUrl: 'SAI_IPFS_GATEWAY_URL',
    indexPath: 'SAI_IPFS_INDEX_PATH'
  }
} as const

/** The `sai-images` flags that set an option. */
export const FLAG_NAMES = { root: '--root', allowNonImage: '--allow-non-image' } as const

/**
 * The names for a driver's options: the variables, less the options given in code, and then those
 * the caller names (the CLI: its flags).
 */
export function settingNamesFor(
  variables: Record<string, string>,
  inCode: object,
  callerNames: SettingNames = {}
): SettingNames {
  const all: SettingNames = { ...ENV_NAMES.limits, ...variables }
  for (const option of Object.keys(inCode)) delete all[option]
  return { ...all, ...callerNames }
}

/** The CLI's names: a flag where the operator gave it (allowNonImage: the flag or its variable). */
export function flagNames(given: { root: boolean; allowNonImage: boolean }): SettingNames {
  const names: SettingNames = given.root ? { root: FLAG_NAMES.root } : {}
  names.allowNonImage = given.allowNonImage
    ? FLAG_NAMES.allowNonImage
    : `${FLAG_NAMES.allowNonImage} (or SAI_IMAGE_STORAGE_ALLOW_NON_IMAGE)`
  return names
}

/** A wrong option's error, named as `names` say; any other error as it is. */
export function named(err: unknown, names: SettingNames): unknown {
  if (!(err instanceof ConfigError) || err.option === undefined) return err
  const setting = names[err.option]
  return setting === undefined ? err : new ConfigError(setting, err.reason, err.option)
}
