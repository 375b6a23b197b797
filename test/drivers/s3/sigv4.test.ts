/**
 * Our SigV4 (sigv4.ts), which signs the direct PUT and GET when the credentials are given: the same
 * headers as the SDK's own signer for the same request and time. (Against the gateway, every direct
 * test signs with it: direct.test.ts, store.test.ts.)
 */
import { S3Client } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import type { SignableRequest } from '../../../src/drivers/s3/direct.js'
import { StaticSigner } from '../../../src/drivers/s3/sigv4.js'

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }
const sha = 'a'.repeat(64)

const put: SignableRequest = {
  method: 'PUT',
  protocol: 'http:',
  hostname: '127.0.0.1',
  port: 7480,
  path: '/bucket/cams%20one/ab/cd/abcd.jpg',
  query: {},
  headers: {
    host: '127.0.0.1:7480',
    'x-amz-content-sha256': sha,
    'content-length': '1234',
    'content-type': 'image/jpeg',
    'x-amz-meta-stored-at': '2026-12-05T07:16:37.000Z',
    'x-amz-meta-note': '  two   spaces ',
    'if-none-match': '*'
  }
}
const get: SignableRequest = {
  ...put,
  method: 'GET',
  query: { 'list-type': '2', prefix: 'cams one/', 'continuation-token': 'a+b/c=' },
  headers: { host: '127.0.0.1:7480', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }
}

/** The SDK's signer, which takes the time to sign at. */
interface SdkSigner {
  sign(request: SignableRequest, options: { signingDate: Date }): Promise<{ headers: Record<string, string> }>
}

async function sdkSigner(region: string, sessionToken?: string): Promise<SdkSigner> {
  const client = new S3Client({ region, credentials: { ...credentials, sessionToken } })
  try {
    return (await client.config.signer()) as unknown as SdkSigner
  } finally {
    client.destroy()
  }
}

describe('our SigV4 signer (sigv4.ts)', () => {
  it.each([
    ['a PUT with metadata and If-None-Match', put, 'us-east-1', undefined],
    ['a GET with a query, in another region, with a session token', get, 'eu-west-3', 'token/with+chars==']
  ])('signs %s exactly as the SDK does', async (_name, request, region, sessionToken) => {
    const sdk = await sdkSigner(region, sessionToken)
    for (const at of ['2026-12-05T07:16:37.123Z', '2026-12-06T00:00:01.000Z']) {
      const date = new Date(at)
      const ours = await new StaticSigner({ ...credentials, sessionToken }, region, () => date).sign(request)
      const theirs = await sdk.sign({ ...request, headers: { ...request.headers } }, { signingDate: date })
      expect(ours.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//)
      expect(ours.headers).toEqual(theirs.headers)
    }
  })

  it('derives a new signing key when the day changes (one signer, two days)', async () => {
    let now = new Date('2026-12-05T23:59:59.000Z')
    const signer = new StaticSigner(credentials, 'us-east-1', () => now)
    const sdk = await sdkSigner('us-east-1')
    for (const at of ['2026-12-05T23:59:59.000Z', '2026-12-06T00:00:00.000Z']) {
      now = new Date(at)
      const theirs = await sdk.sign({ ...put, headers: { ...put.headers } }, { signingDate: now })
      expect((await signer.sign(put)).headers.authorization).toBe(theirs.headers.authorization)
    }
  })
})
