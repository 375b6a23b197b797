/**
 * Everything `store` accepts, reduced to one of two shapes: bytes already in memory, or a
 * stream of chunks that drivers hash while they write it; the limits it is held to, and its image
 * type, sniffed from its first bytes (hashing.ts checks both as the bytes pass).
 */
import type { BigIntStats } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { checkDate, checkWhole } from './checks.js'
import { ImageStorageError, InvalidInputError, TooLargeError } from './errors.js'
import { fileIdentity } from './file-identity.js'
import { aboutOption, type Wording } from './option-names.js'
import type { StoreOptions } from './types.js'

export type ImageInput =
  | Uint8Array
  | ArrayBuffer
  | string
  | Blob
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | { path: string }

export type ImageSource = { bytes: Buffer } | { chunks: AsyncIterable<Uint8Array> }

export interface InputLimits {
  maxBytes: number
  /** Store bytes that match no image signature instead of rejecting them. */
  allowNonImage: boolean
  /**
   * A name a message gives a setting as it is (`the store option maxBytes`); without one, the option
   * (`error.option`), which the factory and the CLI name again.
   */
  names?: { maxBytes?: string; allowNonImage?: string }
}

/** The inference service's upload limit. */
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024

export interface LimitsInit {
  /** Default 50 MiB. */
  maxBytes?: number
  /** Default false: input that is not a recognised image is `ERR_INVALID_INPUT`. */
  allowNonImage?: boolean
  /**
   * @deprecated Since 0.2, and ignored: an error names the option (`error.option`, `the root option`),
   * and `createImageStorage` names the variable or flag it came from. Removed in the next minor.
   */
  settingNames?: Partial<Record<string, string>>
}

/**
 * A driver's limits, overridden per call by `store` options (checked, with the kept times, before any write).
 * A limit set per call is named as such
 * in messages (`the store option maxBytes`); one of the driver's is an option the factory may name again.
 */
export function resolveLimits(init: LimitsInit, options: StoreOptions = {}): InputLimits {
  // (only when given: a plain store's path crosses no more files; test/drivers/fs/path-files.test.ts)
  if (options.maxBytes !== undefined) checkWhole('maxBytes', options.maxBytes, { of: 'bytes' }) // NaN: no limit
  const kept = options.keepTimes
  if (kept !== undefined) {
    checkDate('keepTimes.storedAt', kept.storedAt)
    checkDate('keepTimes.lastStoredAt', kept.lastStoredAt)
  }
  return {
    maxBytes: options.maxBytes ?? init.maxBytes ?? DEFAULT_MAX_BYTES,
    allowNonImage: options.allowNonImage ?? init.allowNonImage ?? false,
    names: { maxBytes: perCall(options, 'maxBytes'), allowNonImage: perCall(options, 'allowNonImage') }
  }
}

const perCall = (options: StoreOptions, option: 'maxBytes' | 'allowNonImage'): string | undefined =>
  options[option] !== undefined ? `the store option ${option}` : undefined

/** Files up to this size are read whole: one read, and duplicates need no temp file. */
const READ_WHOLE_FILE_BYTES = 16 * 1024 * 1024

export async function readInput(input: ImageInput, limits: InputLimits): Promise<ImageSource> {
  if (typeof input === 'string') return { bytes: decodeImageString(input, limits.maxBytes, limits) }
  if (input instanceof Uint8Array) return { bytes: Buffer.from(input.buffer, input.byteOffset, input.byteLength) }
  if (input instanceof ArrayBuffer) return { bytes: Buffer.from(input) }
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    if (input.size > limits.maxBytes) throw tooLarge(limits)
    return { bytes: Buffer.from(await input.arrayBuffer()) }
  }
  if (input != null && typeof (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    // a stream that fails before its first read (a missing file's) is no uncaught 'error': its read throws it
    ;(input as { on?: (event: string, listener: () => void) => void }).on?.('error', () => {})
    return { chunks: fromCaller(input as AsyncIterable<Uint8Array>) }
  }
  if (input != null && typeof (input as { path?: unknown }).path === 'string')
    return await readFileInput((input as { path: string }).path, limits)
  throw new InvalidInputError(
    'Unsupported input: expected bytes, a base64 string, a data URL, a stream, a Blob or { path }'
  )
}

/**
 * The caller's stream, its own failure told as bad input: a `createReadStream` of a missing file (ENOENT), a client
 * that went (ECONNRESET). Not the store's failure ("unavailable at the root"), nor a raw error a job stops on.
 */
async function* fromCaller(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* chunks
  } catch (err) {
    if (err instanceof ImageStorageError || (err as Error)?.name === 'AbortError') throw err // (a signal's reason)
    const path = (err as { path?: unknown })?.path
    throw InvalidInputError.unreadable(typeof path === 'string' ? path : 'the input stream', err)
  }
}

async function readFileInput(path: string, limits: InputLimits): Promise<ImageSource> {
  const unreadable = (err: unknown): InvalidInputError => InvalidInputError.unreadable(path, err)
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw unreadable(err)
  }
  let before: BigIntStats
  try {
    before = await handle.stat({ bigint: true })
    if (!before.isFile())
      throw new InvalidInputError(
        `Input ${path} is not a regular file${before.isDirectory() ? ' but a directory' : ''}`
      )
    if (before.size > limits.maxBytes) throw tooLarge(limits)
    if (before.size <= READ_WHOLE_FILE_BYTES) {
      const bytes = await handle.readFile()
      await unchanged(handle, before, path)
      await handle.close()
      return { bytes }
    }
  } catch (err) {
    await handle.close()
    throw err instanceof ImageStorageError ? err : unreadable(err)
  }
  return { chunks: readChecked(handle, before, path, unreadable) }
}

/**
 * A large file's chunks, its read errors made typed; once read, the file is checked unchanged (before the last
 * chunk's consumer ends: a driver commits only after that).
 */
async function* readChecked(
  handle: FileHandle,
  before: BigIntStats,
  path: string,
  unreadable: (err: unknown) => Error
): AsyncGenerator<Uint8Array> {
  try {
    yield* handle.createReadStream({ autoClose: false })
    await unchanged(handle, before, path)
  } catch (err) {
    throw err instanceof ImageStorageError ? err : unreadable(err)
  } finally {
    await handle.close()
  }
}

/**
 * Refuses bytes read from a file that changed while they were read (a writer still at work: Node's `writeFile`
 * writes 512 KiB at a time, so a reader can meet a prefix): they are neither the file before nor after.
 */
async function unchanged(handle: FileHandle, before: BigIntStats, path: string): Promise<void> {
  if (fileIdentity(await handle.stat({ bigint: true })) === fileIdentity(before)) return
  throw new InvalidInputError(
    `Input ${path} changed while it was read (is it still being written?): nothing was stored; store it once it is complete`
  )
}

/** A base64 string or a `data:…;base64,` URL, decoded strictly (Node's decoder skips bad characters). */
export function decodeImageString(text: string, maxBytes: number, limits?: InputLimits): Buffer {
  let payload = text
  if (text.startsWith('data:')) {
    const comma = text.indexOf(',')
    if (comma < 0 || !/;base64$/i.test(text.slice(0, comma))) {
      throw new InvalidInputError('Only base64 data URLs are accepted (data:image/jpeg;base64,...)')
    }
    payload = text.slice(comma + 1)
  }
  payload = payload.replace(/[\t\n\r ]+/g, '')
  const urlSafe = /[-_]/.test(payload)
  if (!(urlSafe ? /^[A-Za-z0-9_-]*={0,2}$/ : /^[A-Za-z0-9+/]*={0,2}$/).test(payload)) {
    throw new InvalidInputError('Invalid base64: unexpected characters (a file path must be given as { path })')
  }
  const data = payload.replace(/=+$/, '')
  if (data.length % 4 === 1 || (data.length !== payload.length && payload.length % 4 !== 0)) {
    throw new InvalidInputError('Invalid base64: wrong length or padding')
  }
  if (Math.floor((data.length * 3) / 4) > maxBytes)
    throw tooLarge({ maxBytes, allowNonImage: false, names: limits?.names })
  return Buffer.from(data, urlSafe ? 'base64url' : 'base64')
}

/** ERR_TOO_LARGE, naming the setting that set the limit. */
export function tooLarge(limits: InputLimits): TooLargeError {
  const wording: Wording = name => `Image is larger than the limit of ${limits.maxBytes} bytes (${name('maxBytes')})`
  return limitError('maxBytes', wording, limits, message => new TooLargeError(limits.maxBytes, message))
}

/** An error about a limit: named as `limits.names` says, else by its option (named again by the factory). */
export function limitError<E extends ImageStorageError>(
  option: 'maxBytes' | 'allowNonImage',
  wording: Wording,
  limits: InputLimits,
  make: (message: string) => E
): E {
  const fixed = limits.names?.[option]
  if (fixed === undefined) return aboutOption(option, wording, make)
  return Object.assign(make(wording(() => fixed)), { option, setting: fixed })
}

/** The image type comes from magic bytes: 32 bytes of the head are enough for every type here. */
export const SNIFF_BYTES = 32

export type ImageMimeType =
  | 'image/jpeg'
  | 'image/png'
  | 'image/webp'
  | 'image/gif'
  | 'image/bmp'
  | 'image/tiff'
  | 'image/heic'
  | 'image/avif'

/** Returned for bytes that are stored with `allowNonImage` but match no image signature. */
export const UNKNOWN_MIME_TYPE = 'application/octet-stream'

const ascii = (head: Uint8Array, at: number, text: string): boolean =>
  head.length >= at + text.length &&
  Buffer.from(head.buffer, head.byteOffset + at, text.length).toString('latin1') === text

const startsWith = (head: Uint8Array, bytes: number[]): boolean =>
  head.length >= bytes.length && bytes.every((b, i) => head[i] === b)

const HEIF_BRANDS: Record<string, ImageMimeType> = {
  heic: 'image/heic',
  heix: 'image/heic',
  hevc: 'image/heic',
  hevx: 'image/heic',
  heim: 'image/heic',
  heis: 'image/heic',
  mif1: 'image/heic',
  avif: 'image/avif',
  avis: 'image/avif'
}

export function sniffImageType(head: Uint8Array): ImageMimeType | undefined {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WEBP')) return 'image/webp'
  if (ascii(head, 0, 'GIF87a') || ascii(head, 0, 'GIF89a')) return 'image/gif'
  if (ascii(head, 0, 'BM') && head.length >= 14) return 'image/bmp'
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) return 'image/tiff'
  if (ascii(head, 4, 'ftyp')) return HEIF_BRANDS[Buffer.from(head.subarray(8, 12)).toString('latin1')]
  return undefined
}
