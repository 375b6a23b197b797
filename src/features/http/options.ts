/** The handler's options, and what it works with: the options resolved once, with their defaults. */
import { checkWhole } from '../../core/checks.js'
import type { ImageStorage } from '../../core/types.js'
import type { Variants } from '../variants/index.js'
import { VerifiedRecord, type VerifiedRecordOptions } from './verified.js'

export interface ImageHandlerOptions {
  /**
   * Answer with `X-Accel-Redirect: {accelRedirect}{key}` and no body, for nginx to send the file
   * from an `internal` location (filesystem driver). Only for a file verified since it last
   * changed (see `verified`): any other is hashed first, and a damaged one is a 500, never a redirect.
   * E.g. `/protected-images/`.
   */
  accelRedirect?: string
  /**
   * Answer GET with a 302 to a presigned link to the object (S3 driver: `storage.url`), valid for
   * `expiresIn` seconds (default 900). The redirect itself may be cached for half that, privately;
   * the object behind it is served by the S3 endpoint with its own `Content-Type`.
   */
  redirect?: { expiresIn?: number }
  /** Default: one year, immutable (the bytes behind a ref never change). */
  cacheControl?: string
  /**
   * Objects up to this size are read and verified whole before the first byte is sent, so that
   * damaged bytes get a clean 500 instead of a cut connection. Larger ones stream, verified as they
   * pass, the last chunk held back. Default 8 MiB.
   */
  verifyBeforeSendBytes?: number
  /**
   * The record of local files (a store with a `root`) whose bytes were hashed and found right:
   * such a file is sent again without hashing while its device, inode, size, mtime and ctime are
   * unchanged, for at most `maxAgeMs` (default 30 s), at most `maxEntries` files (default 4096).
   * Any write, truncation or replacement changes them; damage below the filesystem is found at the
   * next hash. `false`: hash every answer.
   */
  verified?: VerifiedRecordOptions | false
  /**
   * Told of every failure the client gets a 5xx for (`ERR_INTEGRITY`: damaged bytes, answered 500;
   * `ERR_STORAGE_UNAVAILABLE`: answered 503; anything else). Default: one line on stderr, unless
   * Express's `next` takes the error.
   */
  onError?: (err: unknown, req: import('node:http').IncomingMessage) => void
  /**
   * Serves `/images/:ref/:preset` too (Express param `preset`, or the last two path segments):
   * made once, cached, with an ETag of its own. With `accelRedirect`, a cached variant under the
   * store's root is sent by nginx as well.
   */
  variants?: Variants
}

export interface Context {
  storage: ImageStorage
  options: ImageHandlerOptions
  cacheControl: string
  verifyBeforeSend: number
  record: VerifiedRecord
}

export function contextOf(storage: ImageStorage, options: ImageHandlerOptions): Context {
  // said when the handler is made, not as a 500 on every GET; SigV4 links last 7 days at most. (Whether the driver
  // makes links is asked per request: the lazy default store, `imageStorage`, is not made until then.)
  checkWhole('redirect.expiresIn', options.redirect?.expiresIn, { max: 604_800, of: 'seconds' })
  return {
    storage,
    options,
    cacheControl: options.cacheControl ?? 'public, max-age=31536000, immutable',
    verifyBeforeSend: options.verifyBeforeSendBytes ?? 8 * 1024 * 1024,
    record: new VerifiedRecord(options.verified === false ? { maxEntries: 0 } : options.verified)
  }
}
