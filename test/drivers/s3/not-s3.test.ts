// An endpoint whose 404s are not S3's (a reverse proxy's page, a wrong path): never "no such object". A missing
// object is S3's NoSuchKey only; anything else is unavailable, naming the endpoint (the real gateway's NoSuchKey is
// in the conformance suite).
import { createServer } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { init, sha256 } from './helpers.js'

const server = createServer((_req, res) => {
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n')
})
afterAll(() => {
  server.close()
})

describe("an endpoint whose 404 is not S3's", () => {
  it('fetch, fetchStream and list are unavailable (naming the endpoint), never "not found"', async () => {
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    const driver = new S3Driver({ ...init, endpoint, timeoutMs: 5000 })
    const hash = sha256(testJpeg('not s3'))
    const unavailable = { code: 'ERR_STORAGE_UNAVAILABLE', message: expect.stringContaining('endpoint') }
    await expect(driver.fetch(hash)).rejects.toMatchObject(unavailable)
    await expect(driver.fetchStream(hash)).rejects.toMatchObject(unavailable)
    await expect(
      (async () => {
        for await (const _ of driver.list()) break
      })()
    ).rejects.toMatchObject(unavailable)
    await driver.close()
  })
})
