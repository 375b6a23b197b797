/**
 * The pieces of an RPC exchange that hold no state: the multipart body, reading a body, telling a closed connection.
 */
import type { ClientRequest, IncomingMessage } from 'node:http'

/** The connection was closed or reset under the request, before any answer. */
export function closedUnder(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code
  return code === 'ECONNRESET' || code === 'EPIPE'
}

export async function collect(res: IncomingMessage, limit = Infinity): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  await eachChunk(res, chunk => {
    if (size < limit) chunks.push(chunk)
    size += chunk.length
  })
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
}

/**
 * Hands each chunk of `res` to `onChunk` as it arrives ('data' events: `for await` reads through the
 * stream's buffer, a promise and a copy more per chunk); a throw from `onChunk` ends the read with it.
 */
export async function eachChunk(res: IncomingMessage, onChunk: (chunk: Buffer) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    res.on('data', (chunk: Buffer) => {
      try {
        onChunk(chunk)
      } catch (err) {
        res.destroy(err as Error)
      }
    })
    res.once('end', resolve)
    res.once('error', reject)
    res.once('close', () => {
      if (!res.complete) reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })) // as the stream's own
    })
  })
}

/**
 * `onChunk`, and whether it was called: a streamed answer cut after it began is never sent again (its caller took a
 * part, and a second answer would follow it: a whole frame read as damaged).
 */
export function watched(onChunk?: (chunk: Buffer) => void): {
  onChunk?: (chunk: Buffer) => void
  began: () => boolean
} {
  let began = false
  const seen = (chunk: Buffer): void => {
    began = true
    onChunk!(chunk)
  }
  return { onChunk: onChunk === undefined ? undefined : seen, began: () => began }
}

export function parts(bytes: Uint8Array): {
  head: Buffer
  bytes: Buffer
  tail: Buffer
  headers: Record<string, string | number>
} {
  const boundary = `sai-image-storage-${Math.random().toString(36).slice(2)}`
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="image"\r\nContent-Type: application/octet-stream\r\n\r\n`
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    head,
    bytes: body,
    tail,
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': head.length + body.length + tail.length
    }
  }
}

/** `?name=value&…` of the params: arrays as repeated names, undefined left out. */
export function query(params: Record<string, string | number | boolean | string[] | undefined>): string {
  let text = ''
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value])
      text += `${text === '' ? '?' : '&'}${encodeURIComponent(name)}=${encodeURIComponent(String(item))}`
  }
  return text
}

/**
 * Ends `req` after `timeoutMs` of silence or on the caller's abort: one timer and one listener (AbortSignal.timeout
 * and AbortSignal.any cost weak references and GC work on every request). `heard` starts the silence again (each
 * chunk of the answer: a listing of millions of pins may stream for minutes). `settle` drops both once the exchange
 * has ended, and returns the reason `req` was stopped for, if it was.
 */
export function bounded(
  req: ClientRequest,
  timeoutMs: number,
  signal?: AbortSignal
): { settle: () => unknown; heard: () => void } {
  let stopped: unknown
  const stop = (reason: unknown): void => {
    stopped ??= reason
    req.destroy(reason as Error)
  }
  const timer = setTimeout(() => stop(new DOMException('no answer in time', 'TimeoutError')), timeoutMs)
  const onAbort = (): void => stop(signal!.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  return {
    heard: () => timer.refresh(),
    settle: () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      return stopped
    }
  }
}

/** Sends the multipart file, if any, and ends the request; with `gate`, its last byte waits for it. */
export function writeBody(req: ClientRequest, multipart?: ReturnType<typeof parts>, gate?: Promise<unknown>): void {
  if (multipart === undefined) {
    req.end()
    return
  }
  req.write(multipart.head)
  if (gate === undefined) {
    req.write(multipart.bytes)
    req.end(multipart.tail)
    return
  }
  req.write(multipart.bytes.subarray(0, -1))
  // Kubo cannot finish (pin, link) an add before its last byte: the caller's gate holds it
  void gate.then(
    () => req.end(Buffer.concat([multipart.bytes.subarray(-1), multipart.tail])),
    (err: unknown) => req.destroy(err as Error)
  )
}

export function basic(credentials: string): string {
  return `Basic ${Buffer.from(credentials).toString('base64')}`
}

/** Whether a version such as `0.43.1` (or `0.16.0-rc1`) is at least `[major, minor]`. */
export function atLeast(version: string, [major, minor]: [number, number]): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version)
  if (match === null) return false
  return Number(match[1]) > major || (Number(match[1]) === major && Number(match[2]) >= minor)
}

/** An error's message, with its errno code after it when the message does not say it already. */
export function withCode(error: Error | undefined, err: unknown): string {
  const message = error?.message ?? String(err)
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message
}
