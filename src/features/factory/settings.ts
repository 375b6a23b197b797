/**
 * How messages name a setting, decided here and nowhere else. A driver's errors carry the option
 * they are about (`error.option`) and name it as code gives it (`the root option`); the factory and
 * the CLI, which know where each value came from, name it again here: an option given in code by its
 * own name, one that came from (or is missing in) the environment by its variable, one from a flag
 * of `sai-images` by the flag. `withNames` does it for every error a store throws, at any time.
 */
import { Readable } from 'node:stream'
import { renameOptions } from '../../core/option-names.js'

/** Each option's name in messages, by the option's name in code: `{ root: 'SAI_IMAGE_STORAGE_PATH' }`. */
export type SettingNames = Partial<Record<string, string>>

/** Each option's variable, when its value comes from (or would come from) the environment. */
export const ENV_NAMES = {
  // allowNonImage is also an option of each store(): a library's caller is told of the option first
  common: {
    driver: 'SAI_IMAGE_STORAGE_DRIVER',
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
export const FLAG_NAMES = { driver: '--driver', root: '--root', allowNonImage: '--allow-non-image' } as const

/**
 * The names for a store of `driver`: the variables, less the options given in code, and then those
 * the caller names (the CLI: its flags).
 */
export function settingNamesFor(driver: string, inCode: object, callerNames: SettingNames = {}): SettingNames {
  const own = driver === 'fs' || driver === 's3' || driver === 'ipfs' ? ENV_NAMES[driver] : {}
  const all: SettingNames = { ...ENV_NAMES.common, ...own }
  for (const option of Object.keys(inCode)) delete all[option]
  return { ...all, ...callerNames }
}

/** The names for a replica that `SAI_IMAGE_STORAGE_REPLICAS` chose, configured from the environment alone. */
export function replicaNames(kind: 's3' | 'ipfs' | 'fs'): SettingNames {
  const own = kind === 'fs' ? { ...ENV_NAMES.fs, root: 'SAI_IMAGE_STORAGE_REPLICA_PATH' } : ENV_NAMES[kind]
  return { ...ENV_NAMES.common, driver: 'SAI_IMAGE_STORAGE_REPLICAS', ...own }
}

/**
 * The CLI's names: the flag the operator gave for each option (`driver` and `root`: the flag that set
 * it, `--from`, `--to-root`...; allowNonImage: the flag, or its variable).
 */
export function flagNames(given: { driver?: string; root?: string; allowNonImage: boolean }): SettingNames {
  const names: SettingNames = {}
  if (given.driver !== undefined) names.driver = given.driver
  if (given.root !== undefined) names.root = given.root
  names.allowNonImage = given.allowNonImage
    ? FLAG_NAMES.allowNonImage
    : `${FLAG_NAMES.allowNonImage} (or SAI_IMAGE_STORAGE_ALLOW_NON_IMAGE)`
  return names
}

/** An error about an option (`error.option`), named as `names` say, in place; any other error as it is. */
export function named(err: unknown, names: SettingNames): unknown {
  return renameOptions(err, names)
}

/**
 * `storage`, its errors named as `names` say: those of every method (thrown, rejected, met while
 * listing or while a stream flows) and of the objects it holds (`quarantine`, `marks`). Otherwise the
 * same store: its class (`instanceof`), its fields, its capabilities present or absent.
 */
export function withNames<T extends object>(storage: T, names: SettingNames): T {
  const made = new Map<PropertyKey, { of: unknown; as: unknown }>()
  return new Proxy(storage, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target)
      const method = typeof value === 'function' && property !== 'constructor'
      if (!method && !(HOLDS.has(property) && typeof value === 'object' && value !== null)) return value
      let entry = made.get(property)
      if (entry?.of !== value) {
        const as = method ? namedCall(value as Method, target, names) : withNames(value as object, names)
        entry = { of: value, as }
        made.set(property, entry) // one function per method: `storage.fetch === storage.fetch`
      }
      return entry.as
    }
  })
}

/** The objects a store holds whose methods meet the store's own failures. */
const HOLDS = new Set<PropertyKey>(['quarantine', 'marks'])

type Method = (...args: unknown[]) => unknown

function namedCall(method: Method, self: object, names: SettingNames): Method {
  return (...args) => {
    let result: unknown
    try {
      result = method.apply(self, args)
    } catch (err) {
      throw named(err, names)
    }
    return namedResult(result, names)
  }
}

function namedResult(result: unknown, names: SettingNames): unknown {
  if (result instanceof Promise)
    return result.then(
      value => namedResult(value, names),
      (err: unknown) => {
        throw named(err, names)
      }
    )
  if (result instanceof Readable) {
    // named before any other listener sees it; alone, it is thrown as an unheard 'error' would be
    result.prependListener('error', err => {
      named(err, names)
      if (result.listenerCount('error') === 1) throw err
    })
    return result
  }
  if (typeof (result as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function')
    return namedIteration(result as AsyncIterable<unknown>, names)
  return result
}

/**
 * The iteration itself, its failures named: one promise a step more, no generator around each step
 * (a generator's `yield*` here made `stats` over a million objects about 7 % slower: bench/RESULTS-scale.md).
 */
function namedIteration<T>(source: AsyncIterable<T>, names: SettingNames): AsyncIterableIterator<T> {
  const rename = (err: unknown): never => {
    throw named(err, names)
  }
  let steps: AsyncIterator<T>
  try {
    steps = source[Symbol.asyncIterator]()
  } catch (err) {
    rename(err)
  }
  const iteration: AsyncIterableIterator<T> = {
    next: (...args) => steps.next(...args).then(undefined, rename),
    return: value => (steps.return?.(value) ?? Promise.resolve({ done: true, value })).then(undefined, rename),
    throw: err => (steps.throw?.(err) ?? Promise.reject(err)).then(undefined, rename),
    [Symbol.asyncIterator]: () => iteration
  }
  return iteration
}
