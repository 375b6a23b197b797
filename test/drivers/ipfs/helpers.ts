/** What the IPFS test files share: a Kubo node of their own, raw RPC calls to it, and a proxy in front of it. */
import { createHash } from 'node:crypto'
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, inject } from 'vitest'
import { startKubo, type KuboNode, type KuboNodeOptions } from '../../infra/kubo/node.mjs'

export const MiB = 1024 * 1024
export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** A Kubo node for this test file alone, started before its tests and stopped after them. */
export function useKubo(options: KuboNodeOptions = {}): KuboNode {
  const node = {} as KuboNode
  beforeAll(async () => {
    Object.assign(node, await startKubo({ binary: inject('kuboBinary'), ...options }))
  })
  afterAll(async () => {
    await node.stop?.()
  })
  return node
}

/** A raw RPC call to a node: Kubo's JSON answer (or its error message), status and body as they came. */
export async function rpc(
  url: string,
  command: string,
  params: Record<string, string | number | boolean | string[]> = {},
  body?: Uint8Array
): Promise<{ status: number; json: any; text: string; message?: string }> {
  const target = new URL(`${url}/api/v0/${command}`)
  for (const [name, value] of Object.entries(params))
    for (const item of Array.isArray(value) ? value : [value]) target.searchParams.append(name, String(item))
  let form: FormData | undefined
  if (body !== undefined) {
    form = new FormData()
    form.append('file', new Blob([new Uint8Array(body)]), 'file')
  }
  const response = await fetch(target, { method: 'POST', body: form })
  const text = await response.text()
  let json: any
  try {
    json = JSON.parse(text.trim().split('\n').pop() ?? '')
  } catch {}
  return { status: response.status, json, text, message: response.status === 200 ? undefined : json?.Message }
}

/** Adds bytes the way the driver does (its parameters), outside the driver. */
export async function addRaw(
  url: string,
  bytes: Uint8Array,
  extra: Record<string, string | number | boolean> = {}
): Promise<string> {
  const { json, status, text } = await rpc(
    url,
    'add',
    { 'cid-version': 1, 'raw-leaves': true, chunker: `size-${MiB}`, hash: 'sha2-256', pin: true, ...extra },
    bytes
  )
  if (status !== 200) throw new Error(text)
  return json.Hash
}

/**
 * A proxy in front of a real node: `rewrite` may change an answer's body (or never answer), `drop`
 * may close the connection as a request arrives, `query` may change a request's query.
 */
export async function proxy(
  target: string,
  hooks: {
    rewrite?: (path: string, body: Buffer, response: IncomingMessage) => Buffer | 'hang'
    drop?: (req: IncomingMessage) => boolean
    query?: (url: URL) => void
    /** The trailers of an answer (by default none: a proxy that drops them, as many do). */
    trailers?: (path: string, trailers: NodeJS.Dict<string>) => Record<string, string>
    /** Holds a request until the promise settles, before it goes on to the node. */
    before?: (path: string) => Promise<unknown> | undefined
    /** Holds an answer until the promise settles, after the node gave it. */
    after?: (path: string) => Promise<unknown> | undefined
    /** Cuts an answer after this many bytes of its body: the connection reset, as a proxy or node restart does. */
    cut?: (path: string) => number | undefined
  } = {}
): Promise<{ url: string; server: Server; seen: IncomingMessage[]; close: () => Promise<void> }> {
  const seen: IncomingMessage[] = []
  const upstreamUrl = new URL(target)
  const server = createServer((req, res) => {
    seen.push(req)
    if (hooks.drop?.(req) === true) {
      req.socket.destroy()
      return
    }
    const url = new URL(req.url!, target)
    hooks.query?.(url)
    req.pause()
    void Promise.resolve(hooks.before?.(url.pathname)).finally(() => forward(req, res, url))
  })
  const forward = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const upstream = request(
      {
        host: upstreamUrl.hostname,
        port: upstreamUrl.port,
        path: url.pathname + url.search,
        method: req.method,
        headers: req.headers
      },
      response => {
        const chunks: Buffer[] = []
        response.on('data', chunk => chunks.push(chunk))
        response.on('end', () => {
          void Promise.resolve(hooks.after?.(url.pathname)).finally(() => {
            const body = hooks.rewrite?.(url.pathname, Buffer.concat(chunks), response) ?? Buffer.concat(chunks)
            if (body === 'hang') return // never answers
            const headers = { ...response.headers }
            delete headers['content-length']
            delete headers['transfer-encoding']
            delete headers.trailer
            const trailers = hooks.trailers?.(url.pathname, response.trailers) ?? {}
            if (Object.keys(trailers).length > 0) headers.trailer = Object.keys(trailers).join(', ')
            res.writeHead(response.statusCode!, headers)
            const cutAt = hooks.cut?.(url.pathname)
            if (cutAt !== undefined) {
              res.write(body.subarray(0, cutAt))
              setTimeout(() => res.socket?.destroy(), 50)
              return
            }
            res.write(body)
            res.addTrailers(trailers)
            res.end()
          })
        })
      }
    )
    upstream.on('error', () => res.destroy())
    req.on('error', () => upstream.destroy())
    req.pipe(upstream)
    req.resume()
  }
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  }
  return { url: `http://127.0.0.1:${port}`, server, seen, close }
}

/** Kubo's own trailers, passed on (as a proxy that keeps them does). */
export const keepTrailers = (_path: string, trailers: NodeJS.Dict<string>): Record<string, string> =>
  Object.fromEntries(Object.entries(trailers).filter((entry): entry is [string, string] => entry[1] !== undefined))
