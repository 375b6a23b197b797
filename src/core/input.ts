/**
 * Everything `store` accepts, reduced to one of two shapes: bytes already in memory, or a
 * stream of chunks that drivers hash while they write it.
 */
import { open } from 'node:fs/promises'
import { ImageStorageError, InvalidInputError, TooLargeError } from './errors.js'
import { aboutOption, type Wording } from './option-names.js'

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
    return { chunks: input as AsyncIterable<Uint8Array> }
  }
  if (input != null && typeof (input as { path?: unknown }).path === 'string')
    return await readFileInput((input as { path: string }).path, limits)
  throw new InvalidInputError(
    'Unsupported input: expected bytes, a base64 string, a data URL, a stream, a Blob or { path }'
  )
}

async function readFileInput(path: string, limits: InputLimits): Promise<ImageSource> {
  const unreadable = (err: unknown): InvalidInputError => InvalidInputError.unreadable(path, err)
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw unreadable(err)
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile())
      throw new InvalidInputError(`Input ${path} is not a regular file${stats.isDirectory() ? ' but a directory' : ''}`)
    if (stats.size > limits.maxBytes) throw tooLarge(limits)
    if (stats.size <= READ_WHOLE_FILE_BYTES) {
      const bytes = await handle.readFile()
      await handle.close()
      return { bytes }
    }
  } catch (err) {
    await handle.close()
    throw err instanceof ImageStorageError ? err : unreadable(err)
  }
  return { chunks: rethrowAs(handle.createReadStream(), unreadable) }
}

/** The chunks of `source`, its read errors made typed. */
async function* rethrowAs(
  source: AsyncIterable<Uint8Array>,
  wrap: (err: unknown) => Error
): AsyncGenerator<Uint8Array> {
  try {
    yield* source
  } catch (err) {
    throw wrap(err)
  }
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
