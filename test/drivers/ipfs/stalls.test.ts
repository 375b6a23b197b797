// A node that stops in the middle of an answer: the driver's timeout and the caller's signal still
// end the call (client.ts keeps one timer and one listener per request, dropped when it ends).
import { createServer, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { IpfsDriver, sha256ToCid } from '../../../src/drivers/ipfs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { sha256 } from './helpers.js'

const jpeg = testJpeg('stalls', 200_000)
const cid = sha256ToCid(sha256(jpeg))
const slow = testJpeg('stalls, a slow answer', 200_000)
const slowCid = sha256ToCid(sha256(slow))
let cats = 0
/** Says every CID is pinned, and sends half of a cat's bytes, then nothing; the slow one's in 8 parts, 150 ms apart. */
const server: Server = createServer((req, res) => {
  if (req.url!.startsWith('/api/v0/pin/ls')) {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ Keys: { [cid]: { Type: 'recursive' }, [slowCid]: { Type: 'recursive' } } }))
    return
  }
  cats++
  res.writeHead(200, { 'content-type': 'text/plain', trailer: 'X-Stream-Error' })
  if (!req.url!.includes(slowCid)) {
    res.write(jpeg.subarray(0, 100_000))
    return
  }
  const part = slow.length / 8
  const send = (i: number): unknown =>
    i === 8 ? res.end() : res.write(slow.subarray(i * part, (i + 1) * part), () => setTimeout(send, 150, i + 1))
  send(0)
})
const url = await new Promise<string>(resolve =>
  server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`))
)
afterAll(async () => {
  server.closeAllConnections()
  await new Promise(resolve => server.close(resolve))
})

describe('IpfsDriver on a node that stops mid-answer', () => {
  it('a fetch ends at the timeout, asked once, with the timeout named', async () => {
    cats = 0
    const started = Date.now()
    const error = await new IpfsDriver({ url, timeoutMs: 600 }).fetch(cid).catch(err => err)
    expect(error).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining('no answer within 600 ms')
    })
    expect(Date.now() - started).toBeGreaterThanOrEqual(550)
    expect(cats).toBe(1) // the reset it causes is not read as a closed kept-alive connection
  })

  it('an answer that streams for longer than the timeout, never silent that long, is read whole', async () => {
    // the timeout is of silence: a listing of millions of pins streams for minutes (docs/drivers/ipfs.md)
    cats = 0
    const started = Date.now()
    const bytes = await new IpfsDriver({ url, timeoutMs: 600 }).fetch(slowCid)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000) // 8 parts, 7 pauses of 150 ms
    expect(bytes.equals(slow)).toBe(true)
    expect(cats).toBe(1)
  })

  it("a fetch ends with the caller's abort reason", async () => {
    const controller = new AbortController()
    const reason = new Error('the caller gave up')
    setTimeout(() => controller.abort(reason), 200)
    const started = Date.now()
    await expect(new IpfsDriver({ url, timeoutMs: 30_000 }).fetch(cid, { signal: controller.signal })).rejects.toBe(
      reason
    )
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
