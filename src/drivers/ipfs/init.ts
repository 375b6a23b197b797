/** The IPFS driver's options, with their defaults. */
import { ConfigError } from '../../core/errors.js'
import type { LimitsInit } from '../../core/input.js'

export const DEFAULT_IPFS_API_URL = 'http://127.0.0.1:5001'
export const DEFAULT_IPFS_TIMEOUT_MS = 30_000

export interface IpfsDriverInit extends LimitsInit {
  /** The node's RPC API. Default `http://127.0.0.1:5001`. Credentials in the URL become Basic auth. */
  url?: string | URL
  /** The `Authorization` header for a node behind `API.Authorizations`: `Bearer …`, `Basic …`, or `user:password`. */
  auth?: string
  /** A call is aborted when it hears nothing for this long (a streaming answer goes on). Default 30 s. */
  timeoutMs?: number
  /** A gateway for `url(ref)`, e.g. `https://ipfs.example.org`. */
  gatewayUrl?: string | URL
  /** The MFS folder of the SHA-256 → CID index. Default `/sai-images`. */
  indexPath?: string
}

/** The API URL, or ERR_CONFIG that never shows it (it may hold a password); a query is refused: no call sends it. */
export function checkedUrl(url: string | URL): URL {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {}
  const refuse = (why: string): ConfigError => ConfigError.forOption('url', `${why}; the value is not shown`)
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    throw refuse('expected an http or https URL such as http://127.0.0.1:5001')
  if (parsed.search !== '' || parsed.hash !== '')
    throw refuse('holds a query string or fragment, which no call sends: give a token with the auth option')
  try {
    for (const part of [parsed.username, parsed.password]) decodeURIComponent(part) // (client.ts: Basic auth)
  } catch {
    throw refuse('holds a % that is no escape (%25 is a %) in its user or password')
  }
  return parsed
}
