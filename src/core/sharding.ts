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

export class PrefixSharding implements ShardingStrategy {
  readonly depth: number
  readonly width: number
  private readonly dirName: RegExp
  private readonly keyPattern: RegExp

  constructor(init: PrefixShardingInit = {}) {
    this.depth = init.depth ?? 2
    this.width = init.width ?? 2
    if (!Number.isInteger(this.depth) || this.depth < 0 || this.depth > 8)
      throw ConfigError.forOption('depth', 'expected an integer from 0 to 8')
    if (!Number.isInteger(this.width) || this.width < 1 || this.width > 8)
      throw ConfigError.forOption('width', 'expected an integer from 1 to 8')
    this.dirName = new RegExp(`^[0-9a-f]{${this.width}}$`)
    this.keyPattern = new RegExp(`^${'[0-9a-f]+/'.repeat(this.depth)}([0-9a-f]{64})\\.jpg$`)
  }

  encode(sha256: string): string {
    let key = ''
    for (let level = 0; level < this.depth; level++)
      key += sha256.slice(level * this.width, (level + 1) * this.width) + '/'
    return key + sha256 + OBJECT_EXTENSION
  }

  /** The folders of a digest's key: `ab/cd/`. */
  dirOf(sha256: string): string {
    return this.encode(sha256).slice(0, this.depth * (this.width + 1))
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

  decode(key: string): string | undefined {
    const hash = this.keyPattern.exec(key)?.[1]
    return hash !== undefined && this.encode(hash) === key ? hash : undefined
  }

  isShardDir(name: string): boolean {
    return this.dirName.test(name)
  }
}
