/**
 * Owner marks on S3 (marks.ts) depend on conditional writes. On the real gateway: a create wins once, a swap only
 * from the text it read. Through a front that ignores If-None-Match and If-Match (a fault the real gateway cannot
 * be made to show, so a proxy answers those PUTs itself): ERR_CONFIG naming the header, never two owners.
 */
import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { forward, fresh, listen, useBucket } from './helpers.js'

useBucket()

describe('S3 owner marks', () => {
  it('on the real gateway: one create wins, a swap needs the text it replaces', async () => {
    const { marks } = fresh()
    expect(await marks.create('owner.json', '{"id":"a"}')).toBe(true)
    expect(await marks.create('owner.json', '{"id":"b"}')).toBe(false)
    expect(await marks.swap('owner.json', '{"id":"b"}', '{"id":"c"}')).toBe(false)
    expect(await marks.swap('owner.json', '{"id":"a"}', '{"id":"c"}')).toBe(true)
    expect(await marks.read('owner.json')).toBe('{"id":"c"}')
  })

  it('a server that ignores conditional writes is ERR_CONFIG, for a create and for a swap', async () => {
    const proxy = createServer((req, res) => {
      const conditional = req.headers['if-none-match'] !== undefined || req.headers['if-match'] !== undefined
      if (req.method === 'PUT' && conditional && req.url!.includes('.marks/')) {
        req.resume().on('end', () => res.writeHead(200, { etag: '"accepted"' }).end()) // accepted, whatever is there
        return
      }
      forward(req, res)
    })
    const port = await listen(proxy)
    try {
      const real = fresh()
      const ignoring = fresh({ endpoint: `http://127.0.0.1:${port}`, prefix: real.prefix })
      await expect(ignoring.marks.create('owner.json', '{"id":"a"}')).rejects.toMatchObject({
        code: 'ERR_CONFIG',
        message: expect.stringContaining('ignores If-None-Match')
      })
      expect(await real.marks.create('owner.json', '{"id":"a"}')).toBe(true)
      await expect(ignoring.marks.swap('owner.json', '{"id":"a"}', '{"id":"b"}')).rejects.toMatchObject({
        code: 'ERR_CONFIG',
        message: expect.stringContaining('ignores If-Match')
      })
      expect(await real.marks.read('owner.json')).toBe('{"id":"a"}')
    } finally {
      proxy.close()
    }
  })
})
