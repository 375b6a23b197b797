/**
 * One class per failure kind. `code` is stable public API: match on it, not on messages.
 *
 * @example
 * ```ts
 * try { await storage.fetch(hash) } catch (err) {
 *   if (err instanceof ImageStorageError && err.code === 'ERR_NOT_FOUND') return null
 *   throw err
 * }
 * ```
 */
export type ErrorCode =
  | 'ERR_INVALID_REF'
  | 'ERR_INVALID_INPUT'
  | 'ERR_TOO_LARGE'
  | 'ERR_NOT_FOUND'
  | 'ERR_INTEGRITY'
  | 'ERR_STORAGE_UNAVAILABLE'
  | 'ERR_CONFIG'

export abstract class ImageStorageError extends Error {
  abstract readonly code: ErrorCode

  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

export class InvalidRefError extends ImageStorageError {
  readonly code = 'ERR_INVALID_REF'

  constructor (readonly ref: unknown, reason: string) {
    super(`Invalid image ref ${describe(ref)}: ${reason}`)
  }
}

export class InvalidInputError extends ImageStorageError {
  readonly code = 'ERR_INVALID_INPUT'

  /** A file or folder named as input (or output) that cannot be used: ENOENT, EISDIR, EACCES, ... */
  static unreadable (path: string, err: unknown, verb = 'read'): InvalidInputError {
    const code = (err as NodeJS.ErrnoException)?.code
    const why = FILE_REASONS[code ?? ''] ?? (err as Error)?.message ?? String(err)
    return new InvalidInputError(`Cannot ${verb} ${path}: ${why}${code === undefined ? '' : ` (${code})`}`, { cause: err })
  }
}

const FILE_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EEXIST: 'already exists'
}

export class TooLargeError extends ImageStorageError {
  readonly code = 'ERR_TOO_LARGE'

  constructor (readonly limit: number, message = `Image is larger than the limit of ${limit} bytes (option maxBytes, env SAI_IMAGE_STORAGE_MAX_BYTES)`) {
    super(message)
  }
}

export class NotFoundError extends ImageStorageError {
  readonly code = 'ERR_NOT_FOUND'

  constructor (readonly hash: string, readonly path?: string, hint?: string) {
    super(`No image stored under ${hash}${path === undefined ? '' : ` (${path})`}${hint === undefined ? '' : `: ${hint}`}`)
  }
}

export class IntegrityError extends ImageStorageError {
  readonly code = 'ERR_INTEGRITY'

  constructor (readonly expected: string, readonly actual: string, readonly path?: string) {
    super(`Stored bytes do not match their address${path === undefined ? '' : ` at ${path}`}: expected ${expected}, got ${actual}`)
  }
}

export class StorageUnavailableError extends ImageStorageError {
  readonly code = 'ERR_STORAGE_UNAVAILABLE'

  constructor (message: string, readonly path: string, options?: { cause?: unknown }) {
    super(message, options)
  }

  /** Wraps an OS error met at `path`; `setting` names the env variable that moves the store. */
  static fromSystemError (err: NodeJS.ErrnoException, path: string, setting = 'SAI_IMAGE_STORAGE_PATH'): StorageUnavailableError {
    const why = SYSTEM_REASONS[err.code ?? ''] ?? err.message
    return new StorageUnavailableError(`Image storage unavailable at ${path}: ${why} (${err.code ?? 'error'}). Check the mount or set ${setting}.`, path, { cause: err })
  }
}

export class ConfigError extends ImageStorageError {
  readonly code = 'ERR_CONFIG'

  constructor (readonly variable: string, message: string) {
    super(`${variable}: ${message}`)
  }
}

const SYSTEM_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'directory does not exist',
  ENOTDIR: 'not a directory',
  EIO: 'input/output error'
}

/** The OS errors that mean "the store cannot be used", as opposed to bugs. */
export function isUnavailable (err: unknown): err is NodeJS.ErrnoException {
  return typeof (err as NodeJS.ErrnoException)?.code === 'string' && (err as NodeJS.ErrnoException).code! in SYSTEM_REASONS
}

function describe (ref: unknown): string {
  if (typeof ref !== 'string') return `of type ${ref === null ? 'null' : typeof ref}`
  const shown = ref.length > 80 ? `${ref.slice(0, 80)}…` : ref
  return JSON.stringify(shown)
}
