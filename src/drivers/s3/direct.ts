/**
 * An object's upload and download, and a listing's page, without the SDK's middleware stack: one
 * PUT, GET or HEAD, signed by ours (sigv4.ts) for given credentials, else by the SDK's own SigV4 signer
 * (from the S3 client's config), over node:http(s) with kept-alive sockets. A PUT's payload hash
 * is the body's SHA-256, known already, which the server checks. Profiled on a drain of 600 KB
 * frames to a Ceph gateway, the middleware stack cost about 2 ms of CPU per upload, more than
 * hashing the frame (bench/RESULTS-replication.md); on 8 concurrent fetches of 600 KB it was a
 * quarter of the process's CPU (bench/RESULTS.md). The listing (list.ts) goes this way so that a
 * replicate with given credentials never loads the SDK. Every other request goes through the SDK (client.ts).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

/** A request as the signer takes it (an `HttpRequest` of `@smithy/types`). */
export interface SignableRequest {
  method: string
  protocol: string
  hostname: string
  port?: number
  path: string
  query: Record<string, string>
  headers: Record<string, string>
}

/** The S3 client's SigV4 signer (`client.config.signer()`): its credentials, region and clock. */
export interface Signer {
  sign(request: SignableRequest): Promise<{ headers: Record<string, string> }>
}

/** What the server answered: the status, and for a failure the error's code and message. */
export interface Answer {
  status: number
  code?: string
  message?: string
}

/** A GET's answer: for a 200, its body, not read yet. */
export interface Download extends Answer {
  body?: IncomingMessage
}

/** SigV4's payload hash of a request without a body. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/**
 * Where a bucket's objects are: path style (`http://host:port/bucket/key`: Ceph, MinIO, and any
 * endpoint unless `forcePathStyle` is false) or virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`).
 */
export function bucketBase(endpoint: string, bucket: string, pathStyle: boolean): URL {
  const base = new URL(endpoint)
  const path = base.pathname.replace(/\/$/, '')
  if (pathStyle) base.pathname = `${path}/${bucket}`
  else {
    base.hostname = `${bucket}.${base.hostname}`
    base.pathname = path
  }
  return base
}

/**
 * The request path of `key` under `base`, encoded as SigV4 signs it. A virtual-hosted base's path is `/`, which
 * is no folder: `/key`, not `//key` (S3 keeps both slashes, and the key would be another).
 */
export function objectPath(base: URL, key: string): string {
  return `${base.pathname.replace(/\/$/, '')}/${key}`.split('/').map(encodeSegment).join('/')
}

export class DirectClient {
  private readonly agent: HttpAgent
  /** A listing's pages: a connection each (see `list`). */
  private readonly pages: HttpAgent
  private readonly send: typeof httpRequest

  constructor(
    private readonly base: URL,
    private readonly signer: Signer,
    private readonly timeoutMs: number
  ) {
    const https = base.protocol === 'https:'
    const Agent = https ? HttpsAgent : HttpAgent
    this.agent = new Agent({ keepAlive: true })
    this.pages = new Agent({ keepAlive: false }) // (an HTTPS one still resumes its TLS sessions)
    this.send = https ? httpsRequest : httpRequest
  }

  /** PUTs `bytes` as `key` (`headers`: lower-case names). */
  async put(
    key: string,
    bytes: Buffer,
    sha256: string,
    headers: Record<string, string>,
    signal?: AbortSignal
  ): Promise<Answer> {
    return await this.retried(
      async () =>
        await settle(
          await this.request('PUT', key, sha256, { ...headers, 'content-length': String(bytes.length) }, bytes, signal)
        ),
      signal
    )
  }

  /** GETs `key`: a 200's body to read, or the failure; a server error is tried once more (a GET may be repeated). */
  async get(key: string, signal?: AbortSignal): Promise<Download> {
    return await this.retried(async last => {
      const res = await this.request('GET', key, EMPTY_SHA256, {}, undefined, signal)
      if (res.statusCode === 200) return { status: 200, body: res }
      const answer = await settle(res)
      if (answer.status >= 500 && !last) throw Object.assign(new Error(answer.message), { retry: true })
      return answer
    }, signal)
  }

  /** HEADs `key`: the answer's status and headers (a HEAD's failure has no body); a server error is tried once more. */
  async head(key: string, signal?: AbortSignal): Promise<Answer & { headers: IncomingHttpHeaders }> {
    return await this.retried(async last => {
      const res = await this.request('HEAD', key, EMPTY_SHA256, {}, undefined, signal)
      res.resume()
      const status = res.statusCode ?? 0
      if (status >= 500 && !last) throw Object.assign(new Error(`HTTP${status}`), { retry: true })
      return status < 300 ? { status, headers: res.headers } : { status, code: `HTTP${status}`, headers: res.headers }
    }, signal)
  }

  /**
   * GETs the bucket with `query` (a ListObjectsV2 page: list.ts): a 200's body as text, or the failure; a server
   * error is tried once more, as a GET's. Each page on a new connection: on one the uploads kept alive, the
   * client's delayed ACK (Linux delays it on a connection that has gone back and forth) met a server with Nagle's
   * algorithm on (RGW's default), which held the end of a 400-key page until that ACK: 40 ms, in half the
   * replicates of bench/RESULTS-replication-cli.md. A new connection acknowledges its first answer at once.
   */
  async list(query: Record<string, string>, signal?: AbortSignal): Promise<Answer & { text?: string }> {
    return await this.retried(async last => {
      const res = await this.request('GET', '', EMPTY_SHA256, {}, undefined, signal, query, this.pages)
      if (res.statusCode !== 200) {
        const answer = await settle(res)
        if (answer.status >= 500 && !last) throw Object.assign(new Error(answer.message), { retry: true })
        return answer
      }
      return { status: 200, text: await bodyText(res) }
    }, signal)
  }

  /** `attempt`, and once more if it failed on a socket the server had closed (or asked for it). */
  private async retried<T>(attempt: (last: boolean) => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt(tries >= 2)
      } catch (err) {
        if (tries >= 2 || signal?.aborted === true || (err as { retry?: boolean }).retry !== true) throw err
      }
    }
  }

  destroy(): void {
    this.agent.destroy()
    this.pages.destroy()
  }

  private async sign(
    method: string,
    key: string,
    sha256: string,
    headers: Record<string, string>,
    query: Record<string, string>
  ): Promise<{ path: string; headers: Record<string, string> }> {
    const path = objectPath(this.base, key)
    const signed = await this.signer.sign({
      method,
      protocol: this.base.protocol,
      hostname: this.base.hostname,
      port: this.base.port === '' ? undefined : Number(this.base.port),
      path,
      query,
      headers: { ...headers, host: this.base.host, 'x-amz-content-sha256': sha256 }
    })
    // the query as the signer encoded it in its canonical request
    const search = Object.entries(query).map(([name, value]) => `${encodeSegment(name)}=${encodeSegment(value)}`)
    return { path: search.length === 0 ? path : `${path}?${search.join('&')}`, headers: signed.headers }
  }

  /** The answer once its head arrived; its body is the caller's to read. */
  private async request(
    method: string,
    key: string,
    sha256: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    signal?: AbortSignal,
    query: Record<string, string> = {},
    agent = this.agent
  ): Promise<IncomingMessage> {
    const signed = await this.sign(method, key, sha256, headers, query)
    signal?.throwIfAborted()
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.send({
        agent,
        protocol: this.base.protocol,
        hostname: this.base.hostname,
        port: this.base.port,
        method,
        path: signed.path,
        headers: signed.headers,
        signal
      })
      let answer: IncomingMessage | undefined
      // silence for the timeout, before the answer or while its body flows, ends it
      req.setTimeout(this.timeoutMs, () => {
        const err = Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { name: 'TimeoutError' })
        if (answer === undefined) req.destroy(err)
        else answer.destroy(err)
      })
      // a kept-alive socket the server closed meanwhile fails at once: such a failure may be retried
      req.on('error', err =>
        reject(
          Object.assign(err, {
            retry: req.reusedSocket && ['ECONNRESET', 'EPIPE'].includes((err as { code?: string }).code ?? '')
          })
        )
      )
      req.on('response', (res: IncomingMessage) => {
        answer = res
        resolve(res)
      })
      req.end(body)
    })
  }
}

/** A server's failure answer as the SDK's errors are shaped (its code as the name), for `failure`. */
export function answerError(answer: Answer): Error {
  return Object.assign(new Error(answer.message), { name: answer.code, $metadata: { httpStatusCode: answer.status } })
}

/** A failure's answer, read: its status, code and message. */
async function settle(res: IncomingMessage): Promise<Answer> {
  const text = await bodyText(res)
  const status = res.statusCode ?? 0
  if (status < 300) return { status }
  return {
    status,
    code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `HTTP${status}`,
    message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? ''
  }
}

/** A path segment as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ percent-encoded. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** An answer's whole body, as text. */
async function bodyText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
