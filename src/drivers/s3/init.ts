/** The S3 driver's options, with their defaults, and their checks. */
import { ConfigError } from '../../core/errors.js'
import type { LimitsInit } from '../../core/input.js'

export const DEFAULT_S3_REGION = 'us-east-1'
export const DEFAULT_S3_TIMEOUT_MS = 30_000

export interface S3DriverInit extends LimitsInit {
  bucket: string
  /** e.g. `http://127.0.0.1:7480` for a Ceph RADOS Gateway. Default: AWS for the region. */
  endpoint?: string | URL
  /** Default `us-east-1` (what Ceph and MinIO accept). */
  region?: string
  /** Prepended to every key; a `/` is added if missing. Default: none. */
  prefix?: string
  /** Default: the SDK's credential chain (AWS_* variables, ~/.aws, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** `http://host/bucket/key` URLs. Default: true when an endpoint is given (Ceph, MinIO), else false. */
  forcePathStyle?: boolean
  /**
   * Connecting, waiting for an answer, and any silence while a body flows: each fails after this long. Default 30 s.
   */
  timeoutMs?: number
}

/**
 * The bucket, the prefix and the endpoint checked (`ERR_CONFIG`, naming the setting); the prefix ends with `/` unless
 * empty.
 */
export function checkedPlace(init: S3DriverInit): { bucket: string; prefix: string } {
  if (typeof init?.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(init.bucket))
    throw ConfigError.forOption(
      'bucket',
      `expected an S3 bucket name (3 to 63 of a-z 0-9 . -), got ${JSON.stringify(init?.bucket)}`
    )
  const prefix = init.prefix ?? ''
  if (prefix.startsWith('/') || /[^\w./-]|\.\.|\/\//.test(prefix))
    throw ConfigError.forOption(
      'prefix',
      `expected a key prefix such as frames/ (letters, digits, _ . - /; no leading /), got ${JSON.stringify(prefix)}`
    )
  if (init.endpoint !== undefined) checkEndpoint(init.endpoint)
  return { bucket: init.bucket, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` }
}

/**
 * An http(s) URL with nothing a request does not send. S3 signs with keys, never a URL's user, and sends no query of
 * the endpoint's: either would be printed, secret and all, in every message. Read as the URL standard reads it
 * (`http:user:pass@host` has a user), and never shown.
 */
function checkEndpoint(endpoint: string | URL): void {
  let url: URL | undefined
  try {
    url = new URL(String(endpoint))
  } catch {}
  const refuse = (why: string): ConfigError => ConfigError.forOption('endpoint', `${why}; the value is not shown`)
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw refuse('expected an http or https URL such as http://127.0.0.1:7480')
  if (url.username !== '' || url.password !== '')
    throw refuse(
      'holds a user name or password: give the S3 keys as credentials (SAI_S3_ACCESS_KEY_ID and SAI_S3_SECRET_ACCESS_KEY)'
    )
  if (url.search !== '' || url.hash !== '') throw refuse('holds a query string or fragment, which no request sends')
}
