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
import { ImageStorageError } from './core/errors.js'
import type { ImageStorage } from './core/types.js'

export interface ImageHandlerOptions {
  /**
   * Answer with `X-Accel-Redirect: {accelRedirect}{key}` and no body, for nginx to send the file
   * from an `internal` location (filesystem driver). E.g. `/protected-images/`.
   */
  accelRedirect?: string
  /** Default: one year, immutable (the bytes behind a ref never change). */
  cacheControl?: string
}

type Request = IncomingMessage & { params?: Record<string, string | undefined> }

const STATUS: Partial<Record<string, number>> = {
  ERR_INVALID_REF: 400,
  ERR_NOT_FOUND: 404,
  ERR_STORAGE_UNAVAILABLE: 503
}

export function createImageHandler (storage: ImageStorage, options: ImageHandlerOptions = {}): (req: Request, res: ServerResponse, next?: (err?: unknown) => void) => void {
  const cacheControl = options.cacheControl ?? 'public, max-age=31536000, immutable'

  const serve = async (req: Request, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method Not Allowed\n')
      return
    }
    const ref = req.params?.ref ?? lastSegment(req.url ?? '')
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
    if (options.accelRedirect !== undefined) {
      res.writeHead(200, { ...headers, 'X-Accel-Redirect': options.accelRedirect + stat.key }).end()
      return
    }
    res.writeHead(200, { ...headers, 'Content-Length': stat.size })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    // verified as it streams: on a mismatch the response is cut short, so the client sees a failure
    pipeline(await storage.fetchStream(ref), res, err => { if (err != null) res.destroy(err) })
  }

  return (req, res, next) => {
    serve(req, res).catch((err: unknown) => {
      const status = err instanceof ImageStorageError ? STATUS[err.code] ?? 500 : 500
      if (status === 500 && next !== undefined) return next(err)
      if (res.headersSent) return res.destroy()
      res.writeHead(status, { 'Content-Type': 'text/plain', 'X-Content-Type-Options': 'nosniff' })
        .end(status === 400 ? 'Bad Request: not an image ref\n' : status === 404 ? 'Not Found\n' : status === 503 ? 'Service Unavailable\n' : 'Internal Server Error\n')
    })
  }
}

function lastSegment (url: string): string {
  const path = url.split('?')[0]!
  const segment = path.slice(path.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment // not valid percent-encoding: the ref check rejects it
  }
}

function matches (header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false
  return String(header).split(',').some(tag => { const t = tag.trim(); return t === '*' || t === etag || t === `W/${etag}` })
}
