/**
 * How a digest becomes a relative key. The default is the layout storage.py writes:
 * `ab/cd/abcd….jpg` (depth 2, width 2).
 *
 * @example
 * ```ts
 * new PrefixSharding().encode(hash) // 'ab/cd/abcd….jpg'
 * new PrefixSharding({ depth: 1, width: 3 }).encode(hash) // 'abc/abcd….jpg'
 * ```
 */
import { ConfigError } from './errors.js'

export interface ShardingStrategy {
  /** Directory levels below the root. */
  readonly depth: number
  /** Relative key (always `/`-separated) for a lower-case SHA-256 hex. */
  encode: (sha256: string) => string
  /** The SHA-256 hex a relative key names, or undefined if the key is not one of ours. */
  decode: (key: string) => string | undefined
  /** Whether a directory name can stand at a shard level. */
  isShardDir: (name: string) => boolean
  /**
   * The strategy written down, to be rebuilt elsewhere (`shardingFrom`: a worker thread, a store's
   * layout record); none for a strategy of the caller's own, which is then used where it was made.
   */
  readonly descriptor?: ShardingDescriptor
}

/** A prefix sharding written down: plain data, cloned to a worker and rebuilt there. */
export interface ShardingDescriptor {
  kind: 'prefix'
  depth: number
  width: number
}

export interface PrefixShardingInit {
  depth?: number
  width?: number
}

/**
 * Every object is named `{hash}.jpg`, whatever its type: one name per digest, so a lookup is one
 * `stat`, and the Python service finds every object we write. The type is sniffed from the bytes.
 */
export const OBJECT_EXTENSION = '.jpg'

/** The SHA-256 of a key that a prefix sharding's `decode` accepted (its file is `{sha256}.jpg`). */
export function hashOfDecodedKey(key: string): string {
  return key.slice(-68, -4)
}

/**
 * The keys of a prefix sharding, from its descriptor. Self-contained (no import, no outer name): a
 * worker thread rebuilds it from its source text.
 */
export function prefixKeys({ depth, width }: ShardingDescriptor): Omit<ShardingStrategy, 'descriptor'> {
  const dirName = new RegExp(`^[0-9a-f]{${width}}$`)
  const digest = /^[0-9a-f]{64}$/
  const folders = depth * (width + 1) // `ab/cd/`
  const encode = (sha256: string): string => {
    let key = ''
    for (let level = 0; level < depth; level++) key += `${sha256.slice(level * width, (level + 1) * width)}/`
    return `${key}${sha256}.jpg`
  }
  // checked in place (a walk decodes every key): no match array, no key built again to compare
  const foldersName = (key: string): boolean => {
    for (let level = 0, at = 0; level < depth; level++, at += width + 1) {
      for (let i = 0; i < width; i++)
        if (key.charCodeAt(at + i) !== key.charCodeAt(folders + level * width + i)) return false
      if (key.charCodeAt(at + width) !== 47) return false // '/'
    }
    return true
  }
  return {
    depth,
    encode,
    decode: (key: string): string | undefined => {
      if (key.length !== folders + 68 || !key.endsWith('.jpg') || !foldersName(key)) return undefined
      const hash = key.slice(folders, folders + 64)
      return digest.test(hash) ? hash : undefined
    },
    isShardDir: (name: string): boolean => dirName.test(name)
  }
}

/** Rebuilds a strategy from its descriptor. */
export function shardingFrom(descriptor: ShardingDescriptor): PrefixSharding {
  return new PrefixSharding(descriptor)
}

export class PrefixSharding implements ShardingStrategy {
  readonly depth: number
  readonly width: number
  readonly descriptor: ShardingDescriptor
  readonly encode: (sha256: string) => string
  readonly decode: (key: string) => string | undefined
  readonly isShardDir: (name: string) => boolean

  constructor(init: PrefixShardingInit = {}) {
    this.depth = init.depth ?? 2
    this.width = init.width ?? 2
    if (!Number.isInteger(this.depth) || this.depth < 0 || this.depth > 8)
      throw ConfigError.forOption('depth', 'expected an integer from 0 to 8')
    if (!Number.isInteger(this.width) || this.width < 1 || this.width > 8)
      throw ConfigError.forOption('width', 'expected an integer from 1 to 8')
    this.descriptor = { kind: 'prefix', depth: this.depth, width: this.width }
    ;({ encode: this.encode, decode: this.decode, isShardDir: this.isShardDir } = prefixKeys(this.descriptor))
  }

  /** The folders of a digest's key: `ab/cd/`. */
  dirOf(sha256: string): string {
    // the folders alone (no whole key made to be cut): asked per object by lookups over millions
    let dir = ''
    for (let level = 0; level < this.depth; level++)
      dir += `${sha256.slice(level * this.width, (level + 1) * this.width)}/`
    return dir
  }

  /** The start of every key whose digest starts with `hexPrefix`: `ab/c` for `abc`, `ab/cd/abcde` for `abcde`. */
  keyPrefix(hexPrefix: string): string {
    let key = ''
    for (let level = 0; level < this.depth; level++) {
      const part = hexPrefix.slice(level * this.width, (level + 1) * this.width)
      if (part.length < this.width) return key + part
      key += part + '/'
    }
    return key + hexPrefix
  }
}
