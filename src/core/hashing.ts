/**
 * Hashing the input: SHA-256, size and type checked as the bytes pass, in one place for every
 * driver, and a slice at a time for large inputs so that the event loop never waits long.
 */
import { createHash, type Hash } from 'node:crypto'
import { InvalidInputError } from './errors.js'
import {
  limitError,
  tooLarge,
  type ImageSource,
  type InputLimits,
  SNIFF_BYTES,
  sniffImageType,
  UNKNOWN_MIME_TYPE
} from './input.js'
import { SHA256_HEX } from './ref.js'

export interface Digest {
  sha256: string
  size: number
  mimeType: string
  /** The SHA-256 of the first `prefixBytes` bytes, where the adapter asks for it and the input reaches that far. */
  prefixSha256?: Buffer
}

/**
 * Hashes, counts and type-checks bytes as they pass, in one place for every driver:
 * oversize and non-image input fail as early as the bytes allow.
 */
export class ImageHasher {
  private readonly hash: Hash = createHash('sha256')
  private head: Buffer = Buffer.alloc(0)
  private mimeType?: string
  private prefixSha256?: Buffer
  size = 0

  /** `prefixBytes`: also the SHA-256 of the bytes up to there (a copy of the hash's state, no second pass). */
  constructor(
    private readonly limits: InputLimits,
    private readonly prefixBytes?: number
  ) {}

  update(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array))
      throw new InvalidInputError('Stream chunks must be bytes (Uint8Array or Buffer), not strings or objects')
    this.size += chunk.byteLength
    if (this.size > this.limits.maxBytes) throw tooLarge(this.limits)
    if (this.mimeType === undefined) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, SNIFF_BYTES)])
      if (this.head.length >= SNIFF_BYTES) this.mimeType = typeOf(this.head, this.limits)
    }
    const cut = this.prefixBytes === undefined ? 0 : this.prefixBytes - (this.size - chunk.byteLength)
    if (cut > 0 && cut <= chunk.byteLength) {
      this.hash.update(chunk.subarray(0, cut))
      this.prefixSha256 = this.hash.copy().digest()
      this.hash.update(chunk.subarray(cut))
    } else this.hash.update(chunk)
  }

  /** Ends the input: the hex SHA-256, the size and the sniffed type. */
  digest(): Digest {
    if (this.size === 0) throw emptyInput()
    const mimeType = this.mimeType ?? typeOf(this.head, this.limits)
    const digest = { sha256: this.hash.digest('hex'), size: this.size, mimeType }
    return this.prefixSha256 === undefined ? digest : { ...digest, prefixSha256: this.prefixSha256 }
  }
}

/**
 * The digest of bytes whose SHA-256 the caller has verified already: the size and type checks of a
 * store, without hashing again. Only for a driver whose server checks that SHA-256 on arrival.
 */
export function digestKnown(bytes: Buffer, sha256: string, limits: InputLimits): Digest {
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256))
    throw new InvalidInputError(`Expected the SHA-256 hex of the bytes, got ${JSON.stringify(sha256)}`)
  if (bytes.length > limits.maxBytes) throw tooLarge(limits)
  if (bytes.length === 0) throw emptyInput()
  return { sha256: sha256.toLowerCase(), size: bytes.length, mimeType: typeOf(bytes.subarray(0, SNIFF_BYTES), limits) }
}

function typeOf(head: Buffer, limits: InputLimits): string {
  const type = sniffImageType(head)
  if (type !== undefined) return type
  if (limits.allowNonImage) return UNKNOWN_MIME_TYPE
  const wording = (name: (option: string) => string): string =>
    'Input is not an image: no JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC or AVIF signature ' +
    `(set ${name('allowNonImage')} to store any bytes)`
  throw limitError('allowNonImage', wording, limits, message => new InvalidInputError(message))
}

const emptyInput = (): InvalidInputError => new InvalidInputError('Empty input: there is no image to store')

/** Hashes bytes already in memory: the same checks as a stream, in one call. */
export function digestBytes(bytes: Buffer, limits: InputLimits, prefixBytes?: number): Digest {
  const hasher = new ImageHasher(limits, prefixBytes)
  hasher.update(bytes)
  return hasher.digest()
}

/** Bytes up to this are hashed at once, without a turn; a read from disk is hashed a slice of it at a time. */
export const HASH_SLICE = 256 * 1024

/**
 * Bytes in memory are hashed a first slice of 256 KiB, then slices of up to this, one per turn (~0.6 ms of SHA-256
 * each): a 600 KB frame in two turns, where 256 KiB slices took three. A turn is a pass of the event loop; at 8
 * stores at once the third cost ~50 µs of the loop a frame, and the loop is what they wait for
 * (bench/RESULTS-fsync-off.md, session 21).
 */
export const MEMORY_SLICE = 1024 * 1024

/**
 * Hashes large inputs a slice at a time, in turns: one slice per turn of the event loop across every
 * input its owner (a driver) hashes at once, so that however many 5 MB frames are hashed together,
 * timers and I/O wait for one slice (at most 1 MiB in memory, ~0.6 ms; 256 KiB read from disk), never for
 * several frames' worth of SHA-256. Bytes of 256 KiB or less are hashed at once. The queue is the owner's: no
 * state is shared between instances.
 */
export class HashSlices {
  private readonly waiting: Array<() => void> = []
  private pumping = false

  /** Feeds `bytes` to `update`, a slice per turn. */
  async update(bytes: Uint8Array, update: (slice: Uint8Array) => unknown): Promise<void> {
    if (bytes.length <= HASH_SLICE) {
      update(bytes)
      return
    }
    // a small first slice: the turn after it runs what the caller began beside the hash (a store's temp write,
    // which then copies while the rest hashes; all in one piece, a store alone was 0.85-0.87x as fast)
    for (let at = 0, slice = HASH_SLICE; at < bytes.length; at += slice, slice = MEMORY_SLICE) {
      await this.turn()
      update(bytes.subarray(at, at + slice))
    }
  }

  /** `digestBytes`, a slice per turn. */
  async digest(bytes: Buffer, limits: InputLimits): Promise<Digest> {
    const hasher = new ImageHasher(limits)
    await this.update(bytes, slice => {
      hasher.update(slice)
    })
    return hasher.digest()
  }

  /**
   * Resolves on a later turn of the event loop, one waiter per turn, first come first served: hash
   * one slice after each (for a caller that feeds its slices as they arrive).
   */
  turn(): Promise<void> {
    return new Promise<void>(resolve => {
      this.waiting.push(resolve)
      if (!this.pumping) {
        this.pumping = true
        setImmediate(this.pump)
      }
    })
  }

  private readonly pump = (): void => {
    this.waiting.shift()?.() // its slice runs in the microtasks right after this callback
    if (this.waiting.length > 0) setImmediate(this.pump)
    else this.pumping = false
  }
}

/** The whole input in memory, checked and hashed: for drivers that need every byte before they write. */
export async function readAll(
  source: ImageSource,
  limits: InputLimits,
  signal?: AbortSignal,
  prefixBytes?: number
): Promise<{ bytes: Buffer; digest: Digest }> {
  if ('bytes' in source) return { bytes: source.bytes, digest: digestBytes(source.bytes, limits, prefixBytes) }
  const hasher = new ImageHasher(limits, prefixBytes)
  const chunks: Buffer[] = []
  for await (const chunk of source.chunks) {
    signal?.throwIfAborted()
    hasher.update(chunk)
    chunks.push(Buffer.from(chunk)) // a copy: the producer may reuse its buffer
  }
  return { bytes: Buffer.concat(chunks), digest: hasher.digest() }
}
