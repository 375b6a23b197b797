/** The answer for a variant of an object (`/…/<ref>/<preset>`): 304, X-Accel-Redirect or its bytes. */
import type { ServerResponse } from 'node:http'
import { NotFoundError } from '../../core/errors.js'
import { matches } from './conditional.js'
import type { Context } from './options.js'
import type { Request } from './request.js'

export async function serveVariant(
  ctx: Context,
  req: Request,
  res: ServerResponse,
  ref: string,
  name: string
): Promise<void> {
  const { storage, options } = ctx
  const { variants } = options
  // an Express route with a :preset on a handler without variants: never the original under a variant's URL
  if (variants === undefined) throw new NotFoundError(`${ref}/${name}`)
  const preset = variants.preset(name) // 404 for an unknown preset
  const stat = await storage.stat(ref)
  if (stat.sha256 === undefined) throw new NotFoundError(ref)
  const etag = variants.etagOf(stat.sha256, preset)
  const headers = {
    ETag: etag,
    'Cache-Control': ctx.cacheControl,
    'X-Content-Type-Options': 'nosniff',
    'Content-Type': `image/${preset.format}`
  }
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
