/** What an S3 failure means to an operator, and the option it is about (named as code gives it). */
import type { Wording } from '../../core/option-names.js'

export function reasonOf(err: unknown, timeoutMs: number): { why: string | Wording; option?: string } {
  const error = err as Error & { $metadata?: { httpStatusCode?: number }; code?: string }
  const status = error.$metadata?.httpStatusCode
  if (error.name === 'TimeoutError' || error.name === 'AbortError')
    return { option: 'timeoutMs', why: name => `no answer within ${timeoutMs} ms (${name('timeoutMs')})` }
  if (error.name === 'NoSuchBucket')
    return {
      option: 'bucket',
      why: name => `the bucket does not exist: create it (aws s3 mb) or set ${name('bucket')}`
    }
  if (error.name === 'CredentialsProviderError')
    return {
      option: 'credentials',
      why: name => `no credentials: give ${name('credentials')}, or put them where the SDK's chain looks (AWS_*)`
    }
  if (status === 403 || status === 401) {
    const why: Wording = name =>
      `access denied (${error.name}): check ${name('credentials')}, or the credentials the SDK found`
    return { option: 'credentials', why }
  }
  if (status === 404)
    return {
      option: 'endpoint',
      why: name =>
        `answered HTTP 404 without S3's NoSuchKey (${error.name}): a proxy's page, or ${name('endpoint')} names a wrong path`
    }
  if (error.name === 'BadDigest' || error.name === 'XAmzContentSHA256Mismatch')
    return { why: `the server received other bytes than were sent (${error.name}); nothing was stored` }
  const http = status === undefined ? '' : ` (HTTP ${status})`
  return { why: `${error.name}${http}: ${error.message ?? ''}${error.code === undefined ? '' : ` ${error.code}`}` }
}
