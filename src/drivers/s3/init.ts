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
  // S3 signs with keys, never a URL's user: such an endpoint would be printed, secret and all, in every message
  if (init.endpoint !== undefined && /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(String(init.endpoint)))
    throw ConfigError.forOption(
      'endpoint',
      'holds a user name or password: give the S3 keys as credentials (SAI_S3_ACCESS_KEY_ID and ' +
        'SAI_S3_SECRET_ACCESS_KEY); the value is not shown'
    )
  return { bucket: init.bucket, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` }
}
