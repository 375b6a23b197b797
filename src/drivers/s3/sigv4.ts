/**
 * SigV4 for the direct client's PUT and GET (direct.ts) when the credentials are given, as the CLI's
 * SAI_S3_ACCESS_KEY_ID / SAI_S3_SECRET_ACCESS_KEY give them: the same signature as the SDK's signer
 * (test/drivers/s3/sigv4.test.ts compares them), without loading the SDK first. Loading it took
 * ~100 ms of a `sai-images replicate` before its first upload (bench/RESULTS-replication-cli.md);
 * credentials from the SDK's chain (a profile, an instance role) still use its signer (client.ts).
 */
import { createHash, createHmac } from 'node:crypto'
import type { SignableRequest, Signer } from './direct.js'

export interface StaticCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text).digest()

/** RFC 3986 as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ percent-encoded. */
const uriEscape = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

export class StaticSigner implements Signer {
  /** The signing key of the last day signed for (it changes once a day). */
  #key?: { day: string; key: Buffer }
  readonly #credentials: StaticCredentials

  constructor(
    credentials: StaticCredentials,
    private readonly region: string,
    private readonly now: () => Date = () => new Date()
  ) {
    this.#credentials = { ...credentials }
  }

  async sign(request: SignableRequest): Promise<{ headers: Record<string, string> }> {
    const time = this.now()
      .toISOString()
      .replace(/[-:]|\.\d{3}/g, '') // 20261205T071637Z
    const day = time.slice(0, 8)
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value
    headers['x-amz-date'] = time
    if (this.#credentials.sessionToken !== undefined) headers['x-amz-security-token'] = this.#credentials.sessionToken
    const names = Object.keys(headers).sort()
    const query = Object.keys(request.query)
      .sort()
      .map(name => `${uriEscape(name)}=${uriEscape(request.query[name]!)}`)
      .join('&')
    const canonical = [
      request.method,
      request.path,
      query,
      names.map(name => `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`).join(''),
      names.join(';'),
      headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD'
    ].join('\n')
    const scope = `${day}/${this.region}/s3/aws4_request`
    const digest = createHash('sha256').update(canonical).digest('hex')
    const signature = hmac(this.keyOf(day), `AWS4-HMAC-SHA256\n${time}\n${scope}\n${digest}`).toString('hex')
    headers.authorization =
      `AWS4-HMAC-SHA256 Credential=${this.#credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${names.join(';')}, Signature=${signature}`
    return { headers }
  }

  private keyOf(day: string): Buffer {
    if (this.#key?.day !== day) {
      const dated = hmac(`AWS4${this.#credentials.secretAccessKey}`, day)
      this.#key = { day, key: hmac(hmac(hmac(dated, this.region), 's3'), 'aws4_request') }
    }
    return this.#key.key
  }
}
