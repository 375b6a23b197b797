/** The IPFS driver's options, with their defaults. */
import type { LimitsInit } from '../../core/input.js'

export const DEFAULT_IPFS_API_URL = 'http://127.0.0.1:5001'
export const DEFAULT_IPFS_TIMEOUT_MS = 30_000

export interface IpfsDriverInit extends LimitsInit {
  /** The node's RPC API. Default `http://127.0.0.1:5001`. Credentials in the URL become Basic auth. */
  url?: string | URL
  /** The `Authorization` header for a node behind `API.Authorizations`: `Bearer …`, `Basic …`, or `user:password`. */
  auth?: string
  /** Each call to the node is aborted after this long. Default 30 s. */
  timeoutMs?: number
  /** A gateway for `url(ref)`, e.g. `https://ipfs.example.org`. */
  gatewayUrl?: string | URL
  /** The MFS folder of the SHA-256 → CID index. Default `/sai-images`. */
  indexPath?: string
}
