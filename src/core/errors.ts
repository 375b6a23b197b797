/**
 * One class per failure kind. `code` is stable public API: match on it, not on messages. `name`
 * is the class's own name in every build (`InvalidInputError`), and so are stack traces.
 *
 * @example
 * ```ts
 * try { await storage.fetch(hash) } catch (err) {
 *   if (err instanceof ImageStorageError && err.code === 'ERR_NOT_FOUND') return null
 *   throw err
 * }
 * ```
 */
import { aboutOption, optionName } from './option-names.js'

export type ErrorCode =
  | 'ERR_INVALID_REF'
  | 'ERR_INVALID_INPUT'
  | 'ERR_TOO_LARGE'
  | 'ERR_NOT_FOUND'
  | 'ERR_INTEGRITY'
  | 'ERR_STORAGE_UNAVAILABLE'
  | 'ERR_CONFIG'

/** Marks an error of ours in either build: the ESM and the CommonJS builds each have their own classes. */
const OURS = Symbol.for('sai-image-storage.error')

export abstract class ImageStorageError extends Error {
  abstract readonly code: ErrorCode
  /** The option this error is about, by its name in code (`root`, `maxBytes`, `url`), where there is one. */
  declare readonly option?: string
  /**
   * How the message names that option: `the root option` as a driver says it; the factory and the CLI,
   * which know where the value came from, name the variable or the flag (`SAI_IMAGE_STORAGE_PATH`, `--root`).
   */
  declare readonly setting?: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    // (the bundle keeps class names: tsup's keepNames; a test checks both builds)
    this.name = new.target.name
    Object.defineProperty(this, OURS, { value: true })
  }
}

/**
 * `instanceof` holds across the two builds loaded in one process (`require` here, `import` there): an error of the
 * other build's class of the same name (or a subclass of it) is an instance of this one. Subclasses inherit it.
 */
Object.defineProperty(ImageStorageError, Symbol.hasInstance, {
  value: function ours(this: abstract new (...args: never[]) => unknown, value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true
    if (typeof value !== 'object' || value === null || !(OURS in value)) return false
    for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto))
      if (proto.constructor?.name === this.name) return true
    return false
  }
})

export class InvalidRefError extends ImageStorageError {
  readonly code = 'ERR_INVALID_REF'

  constructor(
    readonly ref: unknown,
    reason: string
  ) {
    super(`Invalid image ref ${describe(ref)}: ${reason}`)
  }
}

export class InvalidInputError extends ImageStorageError {
  readonly code = 'ERR_INVALID_INPUT'

  /** A file or folder named as input (or output) that cannot be used: ENOENT, EISDIR, EACCES, ... */
  static unreadable(path: string, err: unknown, verb = 'read'): InvalidInputError {
    const code = (err as NodeJS.ErrnoException)?.code
    const why = OS_ERRORS[code ?? '']?.file ?? (err as Error)?.message ?? String(err)
    return new InvalidInputError(`Cannot ${verb} ${path}: ${why}${code === undefined ? '' : ` (${code})`}`, {
      cause: err
    })
  }
}

export class TooLargeError extends ImageStorageError {
  readonly code = 'ERR_TOO_LARGE'

  constructor(
    readonly limit: number,
    message = `Image is larger than the limit of ${limit} bytes (maxBytes)`
  ) {
    super(message)
  }
}

export class NotFoundError extends ImageStorageError {
  readonly code = 'ERR_NOT_FOUND'

  constructor(
    readonly hash: string,
    readonly path?: string,
    hint?: string
  ) {
    super(
      `No image stored under ${hash}${path === undefined ? '' : ` (${path})`}${hint === undefined ? '' : `: ${hint}`}`
    )
  }
}

export class IntegrityError extends ImageStorageError {
  readonly code = 'ERR_INTEGRITY'

  constructor(
    readonly expected: string,
    readonly actual: string,
    readonly path?: string,
    hint?: string
  ) {
    super(
      `Stored bytes do not match their address${path === undefined ? '' : ` at ${path}`}: ` +
        `expected ${expected}, got ${actual}` +
        (hint === undefined ? '' : `: ${hint}`)
    )
  }
}

export class StorageUnavailableError extends ImageStorageError {
  readonly code = 'ERR_STORAGE_UNAVAILABLE'

  constructor(
    message: string,
    readonly path: string,
    options?: { cause?: unknown }
  ) {
    super(message, options)
  }

  /** Wraps an OS error met at `path`, naming the option that moves the store (`root`). */
  static fromSystemError(err: NodeJS.ErrnoException, path: string, option: string): StorageUnavailableError {
    const { store: why = err.message, hint } = OS_ERRORS[err.code ?? ''] ?? {}
    return aboutOption(
      option,
      name =>
        `Image storage unavailable at ${path}: ${why} (${err.code ?? 'error'}). ` +
        (hint ?? `Check the mount or set ${name(option)}.`),
      message => new StorageUnavailableError(message, path, { cause: err })
    )
  }
}

export class ConfigError extends ImageStorageError {
  readonly code = 'ERR_CONFIG'

  /**
   * `setting`: how the message names what the user set, a variable, a flag or `the bucket option`;
   * `option`: the setting's name in code (`bucket`, `depth`), where it has one (a variable such as
   * `DATABASE_URL` that the code reads itself has none).
   */
  constructor(
    readonly setting: string,
    readonly reason: string,
    readonly option?: string
  ) {
    super(`${setting}: ${reason}`)
  }

  /**
   * A wrong option, named `the {option} option`: what a driver knows. The factory and the CLI,
   * which know whether the value came from code, a variable or a flag, name it again
   * (features/factory/settings.ts).
   */
  static forOption(option: string, reason: string): ConfigError {
    return aboutOption(
      option,
      name => `${name(option)}: ${reason}`,
      () => new ConfigError(optionName(option), reason, option)
    )
  }

  /** @deprecated Since 0.2: `setting` (it names an option or a flag as well as a variable). */
  get variable(): string {
    return this.setting
  }
}

/**
 * The OS errors this library meets, said once: as a reason about a store (`store`, and then the
 * store cannot be used: ERR_STORAGE_UNAVAILABLE; `hint` if the usual one, the mount or the root, is not it), or about
 * a file the user named (`file`).
 */
const MOVE_ASIDE = "Move it aside (it is not the store's), then store the frame again or restore it from a copy."
const OS_ERRORS: Record<string, { file: string; store?: string; hint?: string }> = {
  EACCES: { file: 'permission denied', store: 'permission denied' },
  EPERM: { file: 'operation not permitted', store: 'operation not permitted' },
  EROFS: { file: 'read-only file system', store: 'read-only file system' },
  ENOSPC: { file: 'no space left on device', store: 'no space left on device' },
  EDQUOT: { file: 'disk quota exceeded', store: 'disk quota exceeded' },
  ENOENT: { file: 'no such file or directory', store: 'directory does not exist' },
  ENOTDIR: { file: 'a part of the path is not a directory', store: 'not a directory' },
  EIO: { file: 'input/output error', store: 'input/output error' },
  // a folder of the store (its .tmp) mounted from another filesystem: no link or rename crosses it
  EXDEV: {
    file: 'not on the same filesystem',
    store: 'a folder of it is another filesystem (a mount inside the root?)'
  },
  EISDIR: { file: 'is a directory', store: 'a folder stands where a file should be', hint: MOVE_ASIDE },
  // an object's name is opened without following a link (O_NOFOLLOW): what a fetch serves is what verify checked
  ELOOP: { file: 'too many symbolic links', store: 'a symbolic link stands where a file should be', hint: MOVE_ASIDE },
  ENAMETOOLONG: { file: 'name too long' },
  EMFILE: { file: 'too many open files' },
  ENFILE: { file: 'too many open files in the system' },
  EEXIST: { file: 'already exists' }
}

/** The OS errors that mean "the store cannot be used", as opposed to bugs. */
export function isUnavailable(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException)?.code
  return typeof code === 'string' && OS_ERRORS[code]?.store !== undefined
}

/**
 * Whether `err` is about one frame's place alone (a folder or a link under its name: `ERR_STORAGE_UNAVAILABLE`
 * naming exactly where `store` keeps that frame), not about the store: that frame fails, the others go on.
 */
export function inOneFramesPlace(err: unknown, store: { pathOf: (ref: string) => string }): boolean {
  const { code, path } = err as { code?: string; path?: string }
  const sha256 = /[0-9a-f]{64}/.exec(path ?? '')?.[0]
  return code === 'ERR_STORAGE_UNAVAILABLE' && sha256 !== undefined && store.pathOf(sha256) === path
}

/** Nothing at the path (or a part of it is a file): ENOENT, ENOTDIR. */
export function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/**
 * The error a caller should see for `err`, or undefined if the driver must translate it: the
 * caller's abort (its reason), and errors that are ours already, pass through.
 */
export function passThrough(err: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted === true) return signal.reason
  if (err instanceof ImageStorageError || (err as Error)?.name === 'AbortError') return err
  return undefined
}

function describe(ref: unknown): string {
  if (typeof ref !== 'string') return `of type ${ref === null ? 'null' : typeof ref}`
  const shown = ref.length > 80 ? `${ref.slice(0, 80)}…` : ref
  return JSON.stringify(shown)
}
