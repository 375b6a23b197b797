/**
 * Everything `store` accepts, reduced to one of two shapes: bytes already in memory, or a
 * stream of chunks that drivers hash while they write it.
 */
import { createHash, type Hash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { ImageStorageError, InvalidInputError, TooLargeError } from './errors.js'
import { SNIFF_BYTES, sniffImageType, UNKNOWN_MIME_TYPE } from './mime.js'

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
}

/** Files up to this size are read whole: one read, and duplicates need no temp file. */
const READ_WHOLE_FILE_BYTES = 16 * 1024 * 1024

export async function readInput (input: ImageInput, limits: InputLimits): Promise<ImageSource> {
  if (typeof input === 'string') return { bytes: decodeImageString(input, limits.maxBytes) }
  if (input instanceof Uint8Array) return { bytes: Buffer.from(input.buffer, input.byteOffset, input.byteLength) }
  if (input instanceof ArrayBuffer) return { bytes: Buffer.from(input) }
  if (typeof Blob !== 'undefined' && input instanceof Blob) {
    if (input.size > limits.maxBytes) throw new TooLargeError(limits.maxBytes)
    return { bytes: Buffer.from(await input.arrayBuffer()) }
  }
  if (input != null && typeof (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    return { chunks: input as AsyncIterable<Uint8Array> }
  }
  if (input != null && typeof (input as { path?: unknown }).path === 'string') return await readFileInput((input as { path: string }).path, limits.maxBytes)
  throw new InvalidInputError('Unsupported input: expected bytes, a base64 string, a data URL, a stream, a Blob or { path }')
}

async function readFileInput (path: string, maxBytes: number): Promise<ImageSource> {
  const unreadable = (err: unknown): InvalidInputError => InvalidInputError.unreadable(path, err)
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw unreadable(err)
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) throw new InvalidInputError(`Input ${path} is not a regular file${stats.isDirectory() ? ' but a directory' : ''}`)
    if (stats.size > maxBytes) throw new TooLargeError(maxBytes)
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
async function * rethrowAs (source: AsyncIterable<Uint8Array>, wrap: (err: unknown) => Error): AsyncGenerator<Uint8Array> {
  try {
    yield * source
  } catch (err) {
    throw wrap(err)
  }
}

/** A base64 string or a `data:…;base64,` URL, decoded strictly (Node's decoder skips bad characters). */
export function decodeImageString (text: string, maxBytes: number): Buffer {
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
  if (Math.floor(data.length * 3 / 4) > maxBytes) throw new TooLargeError(maxBytes)
  return Buffer.from(data, urlSafe ? 'base64url' : 'base64')
}

/**
 * Hashes, counts and type-checks bytes as they pass, in one place for every driver:
 * oversize and non-image input fail as early as the bytes allow.
 */
export class ImageHasher {
  private readonly hash: Hash = createHash('sha256')
  private head: Buffer = Buffer.alloc(0)
  private mimeType?: string
  size = 0

  constructor (private readonly limits: InputLimits) {}

  update (chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) throw new InvalidInputError('Stream chunks must be bytes (Uint8Array or Buffer), not strings or objects')
    this.size += chunk.byteLength
    if (this.size > this.limits.maxBytes) throw new TooLargeError(this.limits.maxBytes)
    if (this.mimeType === undefined) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, SNIFF_BYTES)])
      if (this.head.length >= SNIFF_BYTES) this.mimeType = this.checkType()
    }
    this.hash.update(chunk)
  }

  /** Ends the input: the hex SHA-256, the size and the sniffed type. */
  digest (): { sha256: string, size: number, mimeType: string } {
    if (this.size === 0) throw new InvalidInputError('Empty input: there is no image to store')
    const mimeType = this.mimeType ?? this.checkType()
    return { sha256: this.hash.digest('hex'), size: this.size, mimeType }
  }

  private checkType (): string {
    const type = sniffImageType(this.head)
    if (type !== undefined) return type
    if (this.limits.allowNonImage) return UNKNOWN_MIME_TYPE
    throw new InvalidInputError('Input is not an image: no JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC or AVIF signature (set allowNonImage to store any bytes)')
  }
}

/** Hashes bytes already in memory: the same checks as a stream, in one call. */
export function digestBytes (bytes: Buffer, limits: InputLimits): { sha256: string, size: number, mimeType: string } {
  const hasher = new ImageHasher(limits)
  hasher.update(bytes)
  return hasher.digest()
}

/** Slices hashed between two turns of the event loop: about 150 µs of SHA-256 each. */
export const HASH_SLICE = 256 * 1024

/**
 * Feeds `bytes` to `update` a slice at a time. Bytes of one slice or less are hashed at once. Larger
 * ones take their turn in one queue shared by every call: one slice per turn of the event loop, so
 * that however many 5 MB frames are hashed at once, timers and I/O wait for one slice (about
 * 150 µs), never for several frames' worth of SHA-256.
 */
export async function updateInSlices (bytes: Uint8Array, update: (slice: Uint8Array) => unknown): Promise<void> {
  if (bytes.length <= HASH_SLICE) {
    update(bytes)
    return
  }
  for (let at = 0; at < bytes.length; at += HASH_SLICE) {
    await nextSliceTurn()
    update(bytes.subarray(at, at + HASH_SLICE))
  }
}

const waiting: Array<() => void> = []
let pumping = false

/** Resolves on a later turn of the event loop, one waiter per turn, first come first served. */
async function nextSliceTurn (): Promise<void> {
  await new Promise<void>(resolve => {
    waiting.push(resolve)
    if (!pumping) {
      pumping = true
      setImmediate(pump)
    }
  })
}

function pump (): void {
  waiting.shift()?.() // its slice runs in the microtasks right after this callback
  if (waiting.length > 0) setImmediate(pump)
  else pumping = false
}

/** `digestBytes`, a slice at a time (see `updateInSlices`). */
export async function digestBytesInSlices (bytes: Buffer, limits: InputLimits): Promise<{ sha256: string, size: number, mimeType: string }> {
  const hasher = new ImageHasher(limits)
  await updateInSlices(bytes, slice => { hasher.update(slice) })
  return hasher.digest()
}

/** The whole input in memory, checked and hashed: for drivers that need every byte before they write. */
export async function readAll (source: ImageSource, limits: InputLimits, signal?: AbortSignal): Promise<{ bytes: Buffer, digest: ReturnType<ImageHasher['digest']> }> {
  if ('bytes' in source) return { bytes: source.bytes, digest: digestBytes(source.bytes, limits) }
  const hasher = new ImageHasher(limits)
  const chunks: Buffer[] = []
  for await (const chunk of source.chunks) {
    signal?.throwIfAborted()
    hasher.update(chunk)
    chunks.push(Buffer.from(chunk)) // a copy: the producer may reuse its buffer
  }
  return { bytes: Buffer.concat(chunks), digest: hasher.digest() }
}
