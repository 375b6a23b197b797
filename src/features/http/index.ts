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
import type { ServerResponse } from 'node:http'
import { ImageStorageError } from '../../core/errors.js'
import type { ImageStorage } from '../../core/types.js'
import { serveObject } from './object.js'
import { contextOf, type Context, type ImageHandlerOptions } from './options.js'
import { route, type Request } from './request.js'
import { serveVariant } from './variant.js'

export type { ImageHandlerOptions } from './options.js'
export type { VerifiedRecordOptions } from './verified.js'

type Handler = (req: Request, res: ServerResponse, next?: (err?: unknown) => void) => void

export function createImageHandler(storage: ImageStorage, options: ImageHandlerOptions = {}): Handler {
  const ctx = contextOf(storage, options)
  return (req, res, next) => {
    serve(ctx, req, res).catch((err: unknown) => answerError(ctx, req, res, err, next))
  }
}

async function serve(ctx: Context, req: Request, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method Not Allowed\n')
    return
  }
  const { ref, preset } = route(req, ctx.options.variants !== undefined)
  if (preset !== undefined) return await serveVariant(ctx, req, res, ref, preset)
  await serveObject(ctx, req, res, ref)
}

const STATUS: Partial<Record<string, number>> = {
  ERR_INVALID_REF: 400,
  ERR_NOT_FOUND: 404,
  // a variant of a source that cannot be rendered (not decodable, too many pixels): the source's fault, not ours
  ERR_INVALID_INPUT: 422,
  ERR_TOO_LARGE: 422,
  ERR_INTEGRITY: 500,
  ERR_STORAGE_UNAVAILABLE: 503
}
const TEXT: Record<number, string> = {
  400: 'Bad Request: not an image ref\n',
  404: 'Not Found\n',
  422: 'Unprocessable Entity: the image cannot be rendered as this variant\n',
  500: 'Internal Server Error\n',
  503: 'Service Unavailable\n'
}

/** A failure's answer: its status and a line of text, or Express's `next(err)` for a 5xx. */
function answerError(
  ctx: Context,
  req: Request,
  res: ServerResponse,
  err: unknown,
  next?: (err?: unknown) => void
): void {
  // the client went away mid-answer: no failure of ours to report
  if (res.headersSent && (err as { code?: unknown })?.code === 'ERR_STREAM_PREMATURE_CLOSE') return void res.destroy()
  const status = err instanceof ImageStorageError ? (STATUS[err.code] ?? 500) : 500
  const { onError } = ctx.options
  if (status >= 500) {
    try {
      onError?.(err, req)
    } catch (thrown) {
      console.error(`sai-image-storage: the handler's onError threw: ${text(thrown)}`) // never the process's end
    }
    if (next !== undefined) {
      if (res.headersSent) res.destroy()
      // Express's error handlers read the status from the error
      if (err instanceof Error && !('status' in err)) {
        Object.defineProperty(err, 'status', { value: status, configurable: true })
      }
      next(err)
      return
    }
    // the path without its query: an <img> link's token (`?token=…`) stays out of the log
    const path = (req.url ?? '').split('?')[0]
    if (onError === undefined) console.error(`sai-image-storage: ${req.method ?? 'GET'} ${path}: ${text(err)}`)
  }
  if (res.headersSent) return void res.destroy()
  res.writeHead(status, { 'Content-Type': 'text/plain', 'X-Content-Type-Options': 'nosniff' })
  res.end(TEXT[status] ?? TEXT[500])
}

function text(err: unknown): string {
  return `${(err as { code?: string }).code ?? 'error'}: ${(err as Error)?.message ?? String(err)}`
}
