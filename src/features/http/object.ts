/**
 * The answer for an object of the store: 304, a redirect (nginx's X-Accel-Redirect, or a presigned
 * link), or its verified bytes, whole (200) or one range (206). A local file verified a moment ago
 * and unchanged since is sent from the record (verified.ts) without hashing it again.
 */
import type { ServerResponse } from 'node:http'
import { join } from 'node:path'
import { pipeline, type Readable, Transform } from 'node:stream'
import { ConfigError, IntegrityError } from '../../core/errors.js'
import { parseImageRef } from '../../core/ref.js'
import type { ImageStat } from '../../core/types.js'
import { notModified, rangeOf, type ByteRange } from './conditional.js'
import { closeLocal, openLocal, readWhole, streamLocal, verifyLocal, type LocalFile } from './local.js'
import type { Context } from './options.js'
import type { Request } from './request.js'
import type { Verified } from './verified.js'

/** What an answer says of the object. */
type Facts = Pick<Verified, 'size' | 'mimeType' | 'lastModified'> & { hash: string; key: string }

interface Hit {
  sha256: string
  facts: Facts
  file: LocalFile
}

/** A file changed while it was read from the record: answered as if the record had not known it. */
class Changed extends Error {}

export async function serveObject(ctx: Context, req: Request, res: ServerResponse, ref: string): Promise<void> {
  const hit = await fromRecord(ctx, ref)
  if (hit !== undefined) {
    try {
      return await sendLocal(ctx, req, res, hit.facts, hit.file)
    } catch (err) {
      // changed or unreadable (EIO) since: answered as if never known, unless the answer began
      ctx.record.forget(hit.sha256)
      if (!(err instanceof Changed) && res.headersSent) throw err
    }
  }
  const stat = await ctx.storage.stat(ref) // validates the ref: ERR_INVALID_REF before any lookup
  const { hash, key, size, mimeType } = stat
  const facts: Facts = { hash, key, size, mimeType, lastModified: stat.storedAt ?? stat.lastStoredAt }
  if (notModified(req.headers, `"${stat.hash}"`, facts.lastModified)) return sendHeaders(ctx, res, 304, facts)
  const { accelRedirect, redirect } = ctx.options
  const wantsLocal = accelRedirect !== undefined || redirect === undefined
  // read here: what nginx would send, a body held whole, or a range (a whole stream is verified as it goes)
  const readHere =
    req.method === 'GET' &&
    (accelRedirect !== undefined || stat.size <= ctx.verifyBeforeSend || req.headers.range !== undefined)
  if (wantsLocal && readHere && isLocalFile(ctx, stat)) {
    if (await serveVerifiedLocal(ctx, req, res, stat, facts)) return
    // damaged, or changed while read: the storage decides (a copy heals it, or ERR_INTEGRITY: a 500)
    return sendBytes(ctx, req, res, facts, await ctx.storage.fetch(ref))
  }
  await serveStored(ctx, req, res, ref, facts)
}

/** A record of the object's file that still holds, with the file open. */
async function fromRecord(ctx: Context, ref: string): Promise<Hit | undefined> {
  if (ctx.storage.root === undefined || ctx.record.size === 0) return undefined
  let sha256: string
  try {
    sha256 = parseImageRef(ref).sha256
  } catch {
    return undefined // the storage's own answer (400) follows
  }
  const known = ctx.record.get(sha256)
  if (known === undefined) return undefined
  const file = await openLocal(known.path).catch(() => undefined)
  if (file?.id === known.identity) return { sha256, facts: { ...known, hash: sha256 }, file }
  if (file !== undefined) closeLocal(file)
  ctx.record.forget(sha256)
  return undefined
}

/** Hashes the local file, records it and answers from it; false if it is damaged, unreadable, changed or gone. */
async function serveVerifiedLocal(
  ctx: Context,
  req: Request,
  res: ServerResponse,
  stat: ImageStat,
  facts: Facts
): Promise<boolean> {
  const file = await openLocal(stat.path).catch(() => undefined)
  if (file === undefined) return false
  const small = file.size <= ctx.verifyBeforeSend
  // a file that cannot be read (EIO) is as a damaged one: the storage answers (a copy heals it)
  const verified = await verifyLocal(file, stat.sha256!, small).catch(() => ({ ok: false, bytes: undefined }))
  if (!verified.ok) {
    closeLocal(file)
    return false
  }
  const known = { ...facts, size: file.size }
  ctx.record.set(stat.sha256!, { ...known, path: stat.path, identity: file.id, at: performance.now() })
  await sendLocal(ctx, req, res, known, file, verified.bytes)
  return true
}

/** Answers from a verified local file (`bytes`: its content, if read already); closes it. */
async function sendLocal(
  ctx: Context,
  req: Request,
  res: ServerResponse,
  facts: Facts,
  file: LocalFile,
  bytes?: Buffer
): Promise<void> {
  let handedOver = false
  try {
    if (notModified(req.headers, `"${facts.hash}"`, facts.lastModified)) return sendHeaders(ctx, res, 304, facts)
    if (ctx.options.accelRedirect !== undefined) {
      return sendHeaders(ctx, res, 200, facts, { 'X-Accel-Redirect': ctx.options.accelRedirect + facts.key })
    }
    if (req.method === 'HEAD') {
      return sendHeaders(ctx, res, 200, facts, { 'Content-Length': facts.size, 'Accept-Ranges': 'bytes' })
    }
    if (bytes === undefined && facts.size > ctx.verifyBeforeSend) {
      const range = rangeOf(req.headers, facts.size, `"${facts.hash}"`, facts.lastModified)
      if (range === 'unsatisfiable') return sendUnsatisfiable(ctx, res, facts)
      handedOver = true
      const stream = streamLocal(file, facts.hash, range?.start ?? 0, range?.end ?? facts.size - 1)
      return await sendStream(ctx, res, facts, range, stream)
    }
    const body = bytes ?? (await readWhole(file))
    if (body === undefined) throw new Changed()
    sendBytes(ctx, req, res, facts, body)
  } finally {
    if (!handedOver) closeLocal(file)
  }
}

/** The object through the storage (no local file, or a whole large one): 302, HEAD, verified bytes. */
async function serveStored(ctx: Context, req: Request, res: ServerResponse, ref: string, facts: Facts): Promise<void> {
  const { storage, options } = ctx
  if (options.redirect !== undefined) {
    if (storage.url === undefined)
      throw ConfigError.forOption('redirect', `needs a driver with url(ref) (S3); this one is ${storage.driver}`)
    const expiresIn = options.redirect.expiresIn ?? 900
    const location = await storage.url(ref, { expiresIn })
    const cache = `private, max-age=${Math.floor(expiresIn / 2)}`
    res.writeHead(302, { Location: location, 'Cache-Control': cache, 'X-Content-Type-Options': 'nosniff' }).end()
    return
  }
  const whole = facts.size <= ctx.verifyBeforeSend
  const ranges = whole || storage.root !== undefined // a range of a large local file is read and verified here
  if (req.method === 'HEAD') {
    const length = { 'Content-Length': facts.size }
    return sendHeaders(ctx, res, 200, facts, ranges ? { ...length, 'Accept-Ranges': 'bytes' } : length)
  }
  if (whole) return sendBytes(ctx, req, res, facts, await storage.fetch(ref)) // verified: damaged is a 500, never a 200
  // verified as it streams: on a mismatch the connection is cut before the last chunk, so no
  // client takes the body as complete (no range: a part would look complete)
  await sendStream(ctx, res, facts, undefined, await storage.fetchStream(ref), ranges)
}

/** Verified bytes: whole, or the one range asked for. */
function sendBytes(ctx: Context, req: Request, res: ServerResponse, facts: Facts, bytes: Buffer): void {
  const known = { ...facts, size: bytes.length }
  const range = rangeOf(req.headers, bytes.length, `"${facts.hash}"`, facts.lastModified)
  if (range === 'unsatisfiable') {
    sendUnsatisfiable(ctx, res, known)
    return
  }
  const body = range === undefined ? bytes : bytes.subarray(range.start, range.end + 1)
  res.writeHead(range === undefined ? 200 : 206, {
    ...headersOf(ctx, known),
    'Accept-Ranges': 'bytes',
    'Content-Length': body.length,
    ...(range === undefined ? {} : { 'Content-Range': contentRange(range, bytes.length) })
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}

async function sendStream(
  ctx: Context,
  res: ServerResponse,
  facts: Facts,
  range: ByteRange | undefined,
  stream: Readable,
  ranges = true
): Promise<void> {
  const length = range === undefined ? facts.size : range.end - range.start + 1
  res.writeHead(range === undefined ? 200 : 206, {
    ...headersOf(ctx, facts),
    ...(ranges ? { 'Accept-Ranges': 'bytes' } : {}),
    'Content-Length': length,
    ...(range === undefined ? {} : { 'Content-Range': contentRange(range, facts.size) })
  })
  await new Promise<void>((resolve, reject) => {
    pipeline(stream, exactly(length, facts.hash), res, err => {
      if (err == null) resolve()
      else reject(err)
    })
  })
}

function sendUnsatisfiable(ctx: Context, res: ServerResponse, facts: Facts): void {
  // no-store: a cache keys by URL, not Range (a 416 kept would answer every later request)
  const headers = { 'Content-Range': `bytes */${facts.size}`, 'Content-Length': 0, 'Cache-Control': 'no-store' }
  res.writeHead(416, { ...headersOf(ctx, facts), ...headers }).end()
}

function sendHeaders(
  ctx: Context,
  res: ServerResponse,
  status: number,
  facts: Facts,
  extra: Record<string, string | number> = {}
): void {
  res.writeHead(status, { ...headersOf(ctx, facts), ...extra }).end()
}

function headersOf(ctx: Context, facts: Facts): Record<string, string> {
  return {
    ETag: `"${facts.hash}"`,
    'Cache-Control': ctx.cacheControl,
    'X-Content-Type-Options': 'nosniff',
    'Content-Type': facts.mimeType,
    ...(facts.lastModified === undefined ? {} : { 'Last-Modified': facts.lastModified.toUTCString() })
  }
}

function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`
}

/** Whether `stat` describes a file under the store's local root (what nginx can send, what we read). */
function isLocalFile(ctx: Context, stat: ImageStat): boolean {
  const root = ctx.storage.root
  return root !== undefined && stat.sha256 !== undefined && stat.path === join(root, stat.key)
}

/**
 * Passes `length` bytes, no more, no fewer, or fails the answer: a stream of another length than the `Content-Length`
 * sent (a replicated store's copy read from a replica, where the primary's damaged copy, which `stat` saw, has another
 * size) is cut short, never sent as a whole body that is not the object.
 */
function exactly(length: number, sha256: string): Transform {
  let seen = 0
  const wrong = (): IntegrityError =>
    new IntegrityError(sha256, `bytes of another length than the ${length} announced: the answer was cut short`)
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > length) done(wrong())
      else done(null, chunk)
    },
    flush(done) {
      done(seen === length ? null : wrong())
    }
  })
}
