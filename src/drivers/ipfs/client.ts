/**
 * Kubo's RPC API over node:http: `POST /api/v0/<command>?arg=…`, credentials kept in a true
 * private field and out of every message, each call's silence bounded by the timeout, a read made
 * once more when its kept-alive connection was closed under it (before a streamed answer began).
 *
 * It reads what a general client hides: the `X-Stream-Error` trailer (an error after the body
 * started: a failed pin after `add` sent its Hash line), and whether an answer is Kubo's. Kubo
 * refuses with 500 (or 400) and a JSON `{"Message":…}`; anything else (a proxy's `404 page not
 * found`, 403, 405, HTML) is `ERR_STORAGE_UNAVAILABLE`, never "not found".
 */
import { randomUUID } from 'node:crypto'
import { Agent, request, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { passThrough } from '../../core/errors.js'
import { redact, serviceUnavailable } from '../../core/unavailable.js'
import type { Wording } from '../../core/option-names.js'
import { checkedUrl } from './init.js'
import { atLeast, basic, bounded, closedUnder, collect, eachChunk, parts, query, watched } from './wire.js'
import { withCode, writeBody } from './wire.js'

export type Params = Record<string, string | number | boolean | string[] | undefined>

export interface SendOptions {
  signal?: AbortSignal
  /** Sent as the multipart file `file`; its last byte waits for `gate` (see Pins.add). */
  body?: Uint8Array
  gate?: Promise<unknown>
  /** Each chunk of a 200 answer as it arrives (to hash it); the body is not kept then. */
  onChunk?: (chunk: Buffer) => void
}

/** Kubo's answer to a command it ran: its refusal (`Message`), or the body and any trailer error. */
export interface Answer {
  command: string
  body: Buffer
  /** Kubo refused the command (HTTP 500/400 with its JSON error): the message, for the caller to read. */
  refusal?: string
  /** An error Kubo reported after the body had started (`X-Stream-Error`). */
  streamError?: string
}

/** The commands that change nothing on the node: safe to send twice. */
const READS = new Set(['cat', 'ls', 'pin/ls', 'files/stat', 'files/read', 'files/ls', 'config/show', 'version'])

export class KuboConnection {
  /** The API URL with any credentials removed: safe to print. */
  readonly apiUrl: string
  readonly #authorization?: string
  /** Uploads apart: an add may wait for a marker (store.ts), which must not wait for a socket behind it. */
  readonly #agents: { upload: Agent; call: Agent }
  #trailers?: Promise<boolean>
  readonly #target: { protocol: string; hostname: string; port: string; path: string }

  /** `url` may carry credentials (Basic auth); `auth` is an Authorization value or `user:password`. */
  constructor(
    url: string | URL,
    auth: string | undefined,
    private readonly timeoutMs: number
  ) {
    const parsed = checkedUrl(url)
    if (parsed.username !== '' || parsed.password !== '') {
      this.#authorization = basic(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`)
      parsed.username = parsed.password = ''
    }
    if (auth !== undefined) this.#authorization = /^(Basic|Bearer) \S+$/.test(auth) ? auth : basic(auth)
    this.apiUrl = parsed.toString().replace(/\/$/, '')
    // parsed once: a URL object per request is measurable at 64 KB (allocation and GC)
    const { protocol, hostname, port, pathname } = parsed
    this.#target = {
      protocol,
      hostname: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
      port,
      path: pathname.replace(/\/$/, '')
    }
    // keep-alive: a store is a few calls, and stores run side by side
    const agent = (): Agent =>
      parsed.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, maxSockets: 16 })
        : new Agent({ keepAlive: true, maxSockets: 16 })
    this.#agents = { upload: agent(), call: agent() }
  }

  /** One command: Kubo's answer (a refusal too), or the abort's reason, or `ERR_STORAGE_UNAVAILABLE`. */
  async send(command: string, params: Params, options: SendOptions = {}): Promise<Answer> {
    const { signal } = options
    signal?.throwIfAborted()
    const chunks = watched(options.onChunk)
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.exchange(command, params, { ...options, onChunk: chunks.onChunk })
      } catch (err) {
        if (attempt === 1 && !chunks.began() && READS.has(command) && closedUnder(err) && signal?.aborted !== true)
          continue
        throw this.failure(err, command, signal)
      }
    }
  }

  /** The answer's JSON (one value, or NDJSON lines); a refusal or a trailer error is `ERR_STORAGE_UNAVAILABLE`. */
  json<T = any>(answer: Answer): T {
    const text = this.ok(answer).body.toString().trim()
    try {
      return JSON.parse(text === '' ? 'null' : text)
    } catch {
      throw this.unavailable(answer.command, `not a Kubo RPC answer: ${this.shown(text)}`)
    }
  }

  /**
   * The answer, if Kubo neither refused nor reported an error later; else `ERR_STORAGE_UNAVAILABLE` with Kubo's
   * message.
   */
  ok(answer: Answer): Answer {
    const problem = answer.refusal ?? answer.streamError
    if (problem !== undefined) throw this.unavailable(answer.command, `the node answered: ${problem}`)
    return answer
  }

  /** `ERR_STORAGE_UNAVAILABLE` for this node: about its `url` (or `timeoutMs`, for no answer in time). */
  unavailable(command: string, why: string | Wording, cause?: unknown, option = 'url'): Error {
    return serviceUnavailable(cause ?? new Error(typeof why === 'string' ? why : why(o => o)), {
      service: 'IPFS node',
      where: this.apiUrl,
      operation: command,
      why,
      advice: name => `Check the node or set ${name('url')}`,
      secrets: this.secrets(),
      option
    })
  }

  /**
   * Whether a store may let `add` link its index entry (`to-files`, Kubo 0.16 and later) and read
   * the outcome in the `X-Stream-Error` trailer: asked once, of the node's version and with a
   * `files/rm` under a folder that does not exist, which changes nothing and answers 200 with such
   * a trailer, unless a proxy on the way drops trailers.
   */
  async trailersArrive(signal?: AbortSignal): Promise<boolean> {
    this.#trailers ??= Promise.all([
      this.send('version', {}, { signal }).then(answer =>
        atLeast(String(this.json<{ Version?: string }>(answer)?.Version), [0, 16])
      ),
      this.send('files/rm', { arg: `/.sai-image-storage-trailer-probe-${randomUUID()}/x` }, { signal }).then(
        answer => answer.streamError !== undefined
      )
    ]).then(([recent, trailers]) => recent && trailers)
    try {
      return await this.#trailers
    } catch (err) {
      this.#trailers = undefined // asked again next time
      throw err
    }
  }

  close(): void {
    this.#agents.upload.destroy()
    this.#agents.call.destroy()
  }

  private async exchange(command: string, params: Params, options: SendOptions): Promise<Answer> {
    // te: trailers, so that a proxy that honours it passes Kubo's X-Stream-Error on
    const headers: Record<string, string | number> = {
      te: 'trailers',
      ...(this.#authorization === undefined ? {} : { authorization: this.#authorization })
    }
    const multipart = options.body === undefined ? undefined : parts(options.body)
    if (multipart !== undefined) Object.assign(headers, multipart.headers)
    const { protocol, hostname, port, path } = this.#target
    const send = protocol === 'https:' ? httpsRequest : request
    return await new Promise<Answer>((resolve, reject) => {
      const req = send({
        protocol,
        hostname,
        port,
        path: `${path}/api/v0/${command}${query(params)}`,
        method: 'POST',
        agent: multipart === undefined ? this.#agents.call : this.#agents.upload,
        headers
      })
      const bounds = bounded(req, this.timeoutMs, options.signal)
      const fail = (err: unknown): void => reject(bounds.settle() ?? err) // a stop's reason, not the reset it causes
      req.once('error', fail)
      req.once('response', (res: IncomingMessage) => {
        res.once('error', fail)
        res.on('data', bounds.heard)
        this.read(command, res, options).then(answer => {
          bounds.settle()
          resolve(answer)
        }, fail)
      })
      writeBody(req, multipart, options.gate)
    })
  }

  private async read(command: string, res: IncomingMessage, options: SendOptions): Promise<Answer> {
    const type = String(res.headers['content-type'] ?? '')
    const kuboError = (res.statusCode === 500 || res.statusCode === 400) && type.startsWith('application/json')
    if (res.statusCode !== 200 && !kuboError) {
      const text = (await collect(res, 200)).toString().trim()
      throw this.unavailable(
        command,
        `answered HTTP ${String(res.statusCode)} (${type === '' ? 'no type' : type}) ${this.shown(text)}: not the Kubo RPC API (a gateway, a proxy's path, or another server)`
      )
    }
    if (!kuboError && options.onChunk !== undefined) {
      await eachChunk(res, options.onChunk)
      return { command, body: Buffer.alloc(0), streamError: res.trailers['x-stream-error'] }
    }
    const body = await collect(res)
    if (!kuboError) return { command, body, streamError: res.trailers['x-stream-error'] }
    let message: unknown
    try {
      message = JSON.parse(body.toString()).Message
    } catch {}
    if (typeof message !== 'string')
      throw this.unavailable(
        command,
        `answered HTTP ${String(res.statusCode)} without a Kubo error: ${this.shown(body.toString())}`
      )
    return { command, body, refusal: message }
  }

  private failure(err: unknown, command: string, signal?: AbortSignal): unknown {
    if (signal?.aborted === true) return signal.reason
    const error = err as Error
    if (error?.name !== 'AbortError' && passThrough(err) !== undefined) return err // ours already (an abort here is the timeout)
    if (error?.name === 'TimeoutError' || error?.name === 'AbortError')
      return this.unavailable(
        command,
        name => `no answer within ${this.timeoutMs} ms (${name('timeoutMs')})`,
        err,
        'timeoutMs'
      )
    return this.unavailable(command, withCode(error, err), err)
  }

  private secrets(): string[] {
    if (this.#authorization === undefined) return []
    const token = this.#authorization.split(' ')[1]!
    if (!this.#authorization.startsWith('Basic ')) return [token]
    const decoded = Buffer.from(token, 'base64').toString()
    const [user, password] = [decoded.slice(0, decoded.indexOf(':')), decoded.slice(decoded.indexOf(':') + 1)]
    // a token as the user (`http://TOKEN@host`)
    return [token, decoded, password, ...(password === '' ? [user] : [])]
  }

  /** What the node or a proxy said: redacted, then cut. */
  private shown(text: string): string {
    return JSON.stringify(redact(text, this.secrets()).slice(0, 80))
  }
}
