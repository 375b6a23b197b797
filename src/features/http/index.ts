/**
 * Serves stored images over HTTP, by ref, with node:http or Express. It can serve nothing but
 * objects of the store: the ref is validated before any lookup, and paths are never taken from
 * the request. Authentication is the application's: mount the handler behind it.
 *
 * @example
 * ```ts
 * app.get('/images/:ref', requireLogin, createImageHandler(storage))
 * http.createServer(createImageHandler(storage)).listen(8080) // GET /<ref>, /images/<ref>, ...
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream'
import { join } from 'node:path'
import { ImageStorageError, NotFoundError } from '../../core/errors.js'
import type { ImageStat, ImageStorage } from '../../core/types.js'
import type { Variants } from '../variants/index.js'
import { matches, route, type Request } from './request.js'

export interface ImageHandlerOptions {
  /**
   * Answer with `X-Accel-Redirect: {accelRedirect}{key}` and no body, for nginx to send the file
   * from an `internal` location (filesystem driver). E.g. `/protected-images/`.
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
   * Told of every failure the client gets a 5xx for (`ERR_INTEGRITY`: damaged bytes, answered 500;
   * `ERR_STORAGE_UNAVAILABLE`: answered 503; anything else). Default: one line on stderr, unless
   * Express's `next` takes the error.
   */
  onError?: (err: unknown, req: IncomingMessage) => void
  /**
   * Serves `/images/:ref/:preset` too (Express param `preset`, or the last two path segments):
   * made once, cached, with an ETag of its own. With `accelRedirect`, a cached variant under the
   * store's root is sent by nginx as well.
   */
  variants?: Variants
}


const STATUS: Partial<Record<string, number>> = {
  ERR_INVALID_REF: 400,
  ERR_NOT_FOUND: 404,
  ERR_INTEGRITY: 500,
  ERR_STORAGE_UNAVAILABLE: 503
}
const TEXT: Record<number, string> = { 400: 'Bad Request: not an image ref\n', 404: 'Not Found\n', 500: 'Internal Server Error\n', 503: 'Service Unavailable\n' }

export function createImageHandler (storage: ImageStorage, options: ImageHandlerOptions = {}): (req: Request, res: ServerResponse, next?: (err?: unknown) => void) => void {
  const cacheControl = options.cacheControl ?? 'public, max-age=31536000, immutable'
  const verifyBeforeSend = options.verifyBeforeSendBytes ?? 8 * 1024 * 1024

  const serve = async (req: Request, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method Not Allowed\n')
      return
    }
    const { ref, preset } = route(req, options.variants !== undefined)
    if (preset !== undefined) return await serveVariant(req, res, ref, preset)
    const stat = await storage.stat(ref) // validates the ref: ERR_INVALID_REF before any lookup
    const etag = `"${stat.hash}"`
    const headers = {
      ETag: etag,
      'Cache-Control': cacheControl,
      'X-Content-Type-Options': 'nosniff',
      'Content-Type': stat.mimeType
    }
    if (matches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers).end()
      return
    }
    // nginx sends a file of the local root; an object served from elsewhere (a replica's copy of
    // an evicted frame) is redirected to, or sent from here
    if (options.accelRedirect !== undefined && isLocalFile(storage, stat)) {
      res.writeHead(200, { ...headers, 'X-Accel-Redirect': options.accelRedirect + stat.key }).end()
      return
    }
    if (options.redirect !== undefined) {
      if (storage.url === undefined) throw new TypeError(`the handler's redirect option needs a driver with url(ref, { expiresIn }) (S3); this one is ${storage.driver}`)
      const expiresIn = options.redirect.expiresIn ?? 900
      const location = await storage.url(ref, { expiresIn })
      res.writeHead(302, { Location: location, 'Cache-Control': `private, max-age=${Math.floor(expiresIn / 2)}`, 'X-Content-Type-Options': 'nosniff' }).end()
      return
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'Content-Length': stat.size }).end()
      return
    }
    if (stat.size <= verifyBeforeSend) {
      const bytes = await storage.fetch(ref) // verified: a damaged object is a 500, never a 200
      res.writeHead(200, { ...headers, 'Content-Length': bytes.length }).end(bytes)
      return
    }
    // opened before the status goes out: a copy that cannot be read (a damaged last copy) is a 500
    const stream = await storage.fetchStream(ref)
    res.writeHead(200, { ...headers, 'Content-Length': stat.size })
    // verified as it streams: on a mismatch the connection is cut before the last chunk, so no
    // client takes the body as complete
    await new Promise<void>((resolve, reject) => {
      pipeline(stream, res, err => { if (err == null) resolve(); else reject(err) })
    })
  }

  const serveVariant = async (req: Request, res: ServerResponse, ref: string, name: string): Promise<void> => {
    const variants = options.variants!
    const preset = variants.preset(name) // 404 for an unknown preset
    const stat = await storage.stat(ref)
    if (stat.sha256 === undefined) throw new NotFoundError(ref)
    const etag = variants.etagOf(stat.sha256, preset)
    const headers = { ETag: etag, 'Cache-Control': cacheControl, 'X-Content-Type-Options': 'nosniff', 'Content-Type': `image/${preset.format}` }
    if (matches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers).end() // known without reading or making anything
      return
    }
    const variant = await variants.get(ref, name)
    const root = storage.root
    if (options.accelRedirect !== undefined && root !== undefined && variants.cache.dir.startsWith(`${root}/`)) {
      const key = `${variants.cache.dir.slice(root.length + 1)}/${variant.key}`
      res.writeHead(200, { ...headers, 'X-Accel-Redirect': options.accelRedirect + key }).end()
      return
    }
    res.writeHead(200, { ...headers, 'Content-Length': variant.size })
    res.end(req.method === 'HEAD' ? undefined : variant.bytes)
  }

  return (req, res, next) => {
    serve(req, res).catch((err: unknown) => {
      const status = err instanceof ImageStorageError ? STATUS[err.code] ?? 500 : 500
      if (status >= 500) {
        options.onError?.(err, req)
        if (next !== undefined) {
          if (res.headersSent) res.destroy()
          // Express's error handlers read the status from the error
          if (err instanceof Error && !('status' in err)) Object.defineProperty(err, 'status', { value: status, configurable: true })
          return next(err)
        }
        if (options.onError === undefined) console.error(`sai-image-storage: ${req.method ?? 'GET'} ${req.url ?? ''}: ${(err as { code?: string }).code ?? 'error'}: ${(err as Error)?.message ?? String(err)}`)
      }
      if (res.headersSent) return res.destroy()
      res.writeHead(status, { 'Content-Type': 'text/plain', 'X-Content-Type-Options': 'nosniff' }).end(TEXT[status] ?? TEXT[500])
    })
  }
}

/** Whether `stat` describes a file under the store's local root (what nginx can send). */
function isLocalFile (storage: ImageStorage, stat: ImageStat): boolean {
  return storage.root !== undefined && stat.path === join(storage.root, stat.key)
}
