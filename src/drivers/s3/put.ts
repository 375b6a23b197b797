/**
 * The upload of an object without the SDK: one PUT, signed with AWS Signature V4 (the body's
 * SHA-256, known already, as the payload hash, which the server checks), over node:http(s) with
 * kept-alive sockets. Profiled on a drain of 600 KB frames to a Ceph gateway: the SDK's middleware
 * stack cost about 2 ms of CPU per upload, more than hashing the frame; this costs a tenth of
 * that (bench/RESULTS-replication.md). Every other request goes through the SDK (client.ts).
 */
import { createHash, createHmac } from 'node:crypto'
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

export interface Identity { accessKeyId: string, secretAccessKey: string, sessionToken?: string }

/** What the server answered: the status, and for a failure the error's code and message. */
export interface PutAnswer { status: number, code?: string, message?: string }

/**
 * Where a bucket's objects are: path style (`http://host:port/bucket/key`: Ceph, MinIO, and any
 * endpoint unless `forcePathStyle` is false) or virtual-hosted (`https://bucket.s3.region.amazonaws.com/key`).
 */
export function bucketBase (endpoint: string, bucket: string, pathStyle: boolean): URL {
  const base = new URL(endpoint)
  const path = base.pathname.replace(/\/$/, '')
  if (pathStyle) base.pathname = `${path}/${bucket}`
  else {
    base.hostname = `${bucket}.${base.hostname}`
    base.pathname = path
  }
  return base
}

export class Uploader {
  private readonly agent: HttpAgent
  private readonly send: typeof httpRequest
  private signingKey?: { scope: string, secret: string, key: Buffer }

  constructor (private readonly base: URL, private readonly region: string, private readonly identity: () => Promise<Identity>, private readonly timeoutMs: number) {
    const https = base.protocol === 'https:'
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
    this.send = https ? httpsRequest : httpRequest
  }

  /** PUTs `bytes` as `key` (`headers`: lower-case names); a socket the server had closed is tried once more. */
  async put (key: string, bytes: Buffer, sha256: string, headers: Record<string, string>, signal?: AbortSignal): Promise<PutAnswer> {
    for (let attempt = 1; ; attempt++) {
      const signed = await this.sign(key, sha256, { ...headers, 'content-length': String(bytes.length) })
      try {
        return await this.request(signed, bytes, signal)
      } catch (err) {
        if (attempt >= 2 || signal?.aborted === true || (err as { reused?: boolean }).reused !== true) throw err
      }
    }
  }

  destroy (): void {
    this.agent.destroy()
  }

  private async sign (key: string, sha256: string, headers: Record<string, string>): Promise<{ path: string, headers: Record<string, string> }> {
    const { accessKeyId, secretAccessKey, sessionToken } = await this.identity()
    const path = `${this.base.pathname}/${key}`.split('/').map(encodeSegment).join('/')
    const now = new Date().toISOString().replace(/[-:]|\.\d+/g, '') // 20261202T021309Z
    const day = now.slice(0, 8)
    const all: Record<string, string> = { ...headers, host: this.base.host, 'x-amz-content-sha256': sha256, 'x-amz-date': now }
    if (sessionToken !== undefined) all['x-amz-security-token'] = sessionToken
    const names = Object.keys(all).sort()
    const canonical = ['PUT', path, '', ...names.map(name => `${name}:${all[name]!.trim()}`), '', names.join(';'), sha256].join('\n')
    const scope = `${day}/${this.region}/s3/aws4_request`
    const toSign = ['AWS4-HMAC-SHA256', now, scope, createHash('sha256').update(canonical).digest('hex')].join('\n')
    const signature = createHmac('sha256', this.keyFor(scope, day, secretAccessKey)).update(toSign).digest('hex')
    all.authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`
    return { path, headers: all }
  }

  /** The day's signing key, derived once a day (and again when the secret changes). */
  private keyFor (scope: string, day: string, secret: string): Buffer {
    if (this.signingKey?.scope !== scope || this.signingKey.secret !== secret) {
      let key = createHmac('sha256', `AWS4${secret}`).update(day).digest()
      for (const part of [this.region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest()
      this.signingKey = { scope, secret, key }
    }
    return this.signingKey.key
  }

  private async request (signed: { path: string, headers: Record<string, string> }, bytes: Buffer, signal?: AbortSignal): Promise<PutAnswer> {
    signal?.throwIfAborted()
    return await new Promise<PutAnswer>((resolve, reject) => {
      const req = this.send({ agent: this.agent, protocol: this.base.protocol, hostname: this.base.hostname, port: this.base.port, method: 'PUT', path: signed.path, headers: signed.headers, signal })
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { name: 'TimeoutError' })))
      // a kept-alive socket the server closed meanwhile fails at once: such a failure may be retried
      req.on('error', err => reject(Object.assign(err, { reused: req.reusedSocket && ['ECONNRESET', 'EPIPE'].includes((err as { code?: string }).code ?? '') })))
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          const status = res.statusCode ?? 0
          if (status < 300) return resolve({ status })
          const body = Buffer.concat(chunks).toString('utf8')
          resolve({ status, code: /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? `HTTP${status}`, message: /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? '' })
        })
      })
      req.end(bytes)
    })
  }
}

/** A path segment as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ percent-encoded. */
function encodeSegment (segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
