import { readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { testJpeg, testPng } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('createImageHandler over real HTTP', () => {
  let storage: FilesystemDriver
  let base: string
  let accelBase: string
  const servers: Server[] = []
  const jpeg = testJpeg('http', 300_000)
  let hash: string
  let key: string

  const listen = async (server: Server): Promise<string> => {
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`
  }

  beforeAll(async () => {
    storage = new FilesystemDriver({ root: await tempDir() })
    ;({ hash, key } = await storage.store(jpeg))
    base = await listen(createServer(createImageHandler(storage)))
    accelBase = await listen(createServer(createImageHandler(storage, { accelRedirect: '/protected-images/' })))
  })
  afterAll(() => {
    for (const server of servers) server.close()
  })

  it('GET streams the verified bytes with a strong ETag, immutable caching, the sniffed type and nosniff', async () => {
    const response = await fetch(`${base}/images/${hash}`)
    expect(response.status).toBe(200)
    expect(response.headers.get('etag')).toBe(`"${hash}"`)
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(response.headers.get('content-type')).toBe('image/jpeg')
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    expect(response.headers.get('content-length')).toBe(String(jpeg.length))
    expect(Buffer.compare(Buffer.from(await response.arrayBuffer()), jpeg)).toBe(0)
  })

  it('If-None-Match answers 304 with no body', async () => {
    for (const tag of [`"${hash}"`, `W/"${hash}"`, `"other", "${hash}"`, '*']) {
      const response = await fetch(`${base}/images/${hash}`, { headers: { 'If-None-Match': tag } })
      expect(response.status).toBe(304)
      expect(await response.text()).toBe('')
    }
    expect((await fetch(`${base}/images/${hash}`, { headers: { 'If-None-Match': '"other"' } })).status).toBe(200)
  })

  it('HEAD answers the headers only', async () => {
    const response = await fetch(`${base}/images/${hash}`, { method: 'HEAD' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-length')).toBe(String(jpeg.length))
    expect(await response.text()).toBe('')
  })

  it('PNG is served as image/png; upper-case hex and the CID find the same object', async () => {
    const png = await storage.store(testPng('http png'))
    expect((await fetch(`${base}/${png.hash}`)).headers.get('content-type')).toBe('image/png')
    expect((await fetch(`${base}/${hash.toUpperCase()}`)).status).toBe(200)
  })

  it(
    '400 for anything that is not a ref, traversal included; 404 for a missing object; 405 for other ' + 'methods',
    async () => {
      const outside = `${storage.root}/../secret.txt`
      await writeFile(outside, 'secret')
      for (const path of [
        '/images/..%2Fsecret.txt',
        '/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
        `/images/${hash}.jpg`,
        `/images/${key.replace(/\//g, '%2F')}`,
        '/images/x',
        '/images/%ZZ',
        `/images/${hash.slice(1)}`
      ]) {
        const response = await fetch(base + path)
        expect({ path, status: response.status }).toEqual({ path, status: 400 })
        expect(await response.text()).not.toContain('secret')
      }
      const missing = await fetch(`${base}/images/${'0'.repeat(64)}`)
      expect(missing.status).toBe(404)
      expect(missing.headers.get('x-content-type-options')).toBe('nosniff')
      const post = await fetch(`${base}/images/${hash}`, { method: 'POST' })
      expect(post.status).toBe(405)
      expect(post.headers.get('allow')).toBe('GET, HEAD')
      expect(await readFile(outside, 'utf8')).toBe('secret')
    }
  )

  it('X-Accel-Redirect mode names the internal location and the key, with no body', async () => {
    const response = await fetch(`${accelBase}/images/${hash}`)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-accel-redirect')).toBe(`/protected-images/${key}`)
    expect(response.headers.get('content-type')).toBe('image/jpeg')
    expect(response.headers.get('etag')).toBe(`"${hash}"`)
    expect(await response.text()).toBe('')
  })

  it(
    'a damaged object is a 500 with no image bytes, reported to onError; over verifyBeforeSendBytes the ' +
      'stream is cut before its end',
    async () => {
      const bad = await storage.store(testJpeg('http corrupt', 200_000))
      const bytes = await readFile(bad.path)
      bytes[199_000] = bytes[199_000]! ^ 0xff
      await writeFile(bad.path, bytes)
      const reported: Array<{ code: string; url: string }> = []
      const onError = (err: unknown, req: { url?: string }): void => {
        reported.push({ code: (err as { code: string }).code, url: req.url! })
      }
      const verified = await listen(createServer(createImageHandler(storage, { onError })))
      const response = await fetch(`${verified}/images/${bad.hash}`)
      expect(response.status).toBe(500)
      expect(response.headers.get('content-type')).toBe('text/plain')
      expect(await response.text()).toBe('Internal Server Error\n')
      const streamed = await listen(createServer(createImageHandler(storage, { onError, verifyBeforeSendBytes: 0 })))
      const cut = await fetch(`${streamed}/images/${bad.hash}`)
      expect(cut.status).toBe(200) // the headers went before the damage was seen ...
      await expect(cut.arrayBuffer()).rejects.toThrow() // ... and the body never completes
      await new Promise(resolve => setTimeout(resolve, 50))
      expect(reported).toEqual([
        { code: 'ERR_INTEGRITY', url: `/images/${bad.hash}` },
        { code: 'ERR_INTEGRITY', url: `/images/${bad.hash}` }
      ])
    }
  )

  it("without onError, a 500 goes to the console with the request's path, never its query (a link's token)", async () => {
    const bad = await storage.store(testJpeg('http console', 30_000))
    await writeFile(bad.path, Buffer.alloc(30_000))
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const response = await fetch(`${base}/images/${bad.hash}?token=s3cr3t-link-token&user=ana`)
      expect(response.status).toBe(500)
      await response.arrayBuffer()
      expect(logged.mock.calls.map(call => call.join(' '))).toEqual([
        expect.stringMatching(new RegExp(`^sai-image-storage: GET /images/${bad.hash}: ERR_INTEGRITY: `))
      ])
      expect(JSON.stringify(logged.mock.calls)).not.toContain('s3cr3t')
    } finally {
      logged.mockRestore()
    }
  })

  it('Express-style: integrity and storage failures go to next(err) with their status', async () => {
    const bad = await storage.store(testJpeg('http next', 50_000))
    const bytes = await readFile(bad.path)
    bytes[40_000] = bytes[40_000]! ^ 0xff
    await writeFile(bad.path, bytes)
    const handler = createImageHandler(storage)
    const passed: Array<{ code: string; status: number }> = []
    const app = await listen(
      createServer((req, res) =>
        handler(Object.assign(req, { params: { ref: req.url!.split('/').pop() } }), res, (err: any) => {
          passed.push({ code: err.code, status: err.status })
          res.writeHead(err.status).end()
        })
      )
    )
    expect((await fetch(`${app}/images/${bad.hash}`)).status).toBe(500)
    const gone = new FilesystemDriver({ root: `${await tempDir()}/not-mounted`, createRoot: false })
    const app2 = await listen(
      createServer((req, res) =>
        createImageHandler(gone)(Object.assign(req, { params: { ref: hash } }), res, (err: any) => {
          passed.push({ code: err.code, status: err.status })
          res.writeHead(err.status).end()
        })
      )
    )
    expect((await fetch(`${app2}/images/${hash}`)).status).toBe(503)
    expect(passed).toEqual([
      { code: 'ERR_INTEGRITY', status: 500 },
      { code: 'ERR_STORAGE_UNAVAILABLE', status: 503 }
    ])
    // with node:http alone, the handler answers 503 itself
    const plain = await listen(createServer(createImageHandler(gone, { onError: () => {} })))
    expect((await fetch(`${plain}/images/${hash}`)).status).toBe(503)
  })

  it("a symbolic link under a frame's name is a 503 with no image bytes, whatever it points to", async () => {
    // verify calls it `not-a-file`: the handler must not serve bytes verify never checked, nor hide it as a 404
    const linked = await storage.store(testJpeg('http link', 100_000))
    const copy = `${await tempDir()}/copy.jpg`
    await writeFile(copy, await readFile(linked.path))
    await rm(linked.path)
    await symlink(copy, linked.path)
    const reported: string[] = []
    const url = await listen(
      createServer(createImageHandler(storage, { onError: err => reported.push((err as { code: string }).code) }))
    )
    for (const [target, method] of [
      ['an intact copy', 'GET'],
      ['an intact copy', 'HEAD'],
      ['nothing', 'GET']
    ]) {
      if (target === 'nothing') await rm(copy)
      const response = await fetch(`${url}/images/${linked.hash}`, { method })
      expect({ target, method, status: response.status }).toEqual({ target, method, status: 503 })
      expect(response.headers.get('content-type')).toBe('text/plain')
      expect(await response.text()).toBe(method === 'GET' ? 'Service Unavailable\n' : '')
    }
    expect(reported).toEqual(['ERR_STORAGE_UNAVAILABLE', 'ERR_STORAGE_UNAVAILABLE', 'ERR_STORAGE_UNAVAILABLE'])
  })

  it('works as Express-style middleware: the ref from req.params, other errors to next()', async () => {
    const handler = createImageHandler(storage)
    const errors: unknown[] = []
    const app = createServer((req, res) => {
      const ref = req.url!.split('/').pop()
      handler(Object.assign(req, { params: { ref } }), res, err => {
        errors.push(err)
        res.writeHead(599).end()
      })
    })
    const url = await listen(app)
    expect((await fetch(`${url}/anything/${hash}`)).status).toBe(200)
    const broken = createImageHandler({
      ...storage,
      stat: async () => {
        throw new Error('bug')
      }
    } as never)
    const app2 = await listen(
      createServer((req, res) =>
        broken(Object.assign(req, { params: { ref: hash } }), res, err => {
          errors.push(err)
          res.writeHead(599).end()
        })
      )
    )
    expect((await fetch(`${app2}/x`)).status).toBe(599)
    expect(errors).toMatchObject([{ message: 'bug' }])
  })
})
