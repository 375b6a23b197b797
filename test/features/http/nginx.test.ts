import { createHash } from 'node:crypto'
import { chmod, readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { testJpeg, testPng } from '../../../src/testing/index.js'
import { DAMAGES, wholeSecondTimes } from '../../infra/helpers/damage.js'
import { startNginx, type Nginx } from '../../infra/helpers/nginx.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const SNIPPET = new URL('../../../examples/nginx/images.conf', import.meta.url)

/** The README's nginx snippet, pointed at this test's application and store. */
async function snippet(appPort: number, root: string): Promise<string> {
  return (await readFile(SNIPPET, 'utf8'))
    .replaceAll('127.0.0.1:3000', `127.0.0.1:${appPort}`)
    .replaceAll('/srv/images/', `${root}/`)
}

describe("the accelRedirect handler behind a real nginx (Debian's), with the README's snippet", () => {
  let app: Server
  let nginx: Nginx
  let storage: FilesystemDriver
  let root: string
  const reported: string[] = []

  beforeAll(async () => {
    // nginx workers run as www-data: the store must be world- (or group-) readable, as documented
    const parent = await tempDir('sai-nginx-store')
    await chmod(parent, 0o755)
    root = `${parent}/images`
    storage = new FilesystemDriver({ root, fileMode: 0o644, dirMode: 0o755 })
    app = createServer(
      createImageHandler(storage, {
        accelRedirect: '/protected-images/',
        onError: err => reported.push((err as { code: string }).code)
      })
    )
    await new Promise<void>(resolve => app.listen(0, '127.0.0.1', resolve))
    const appPort = (app.address() as { port: number }).port
    const config = await snippet(appPort, root)
    nginx = await startNginx(() => config)
  })

  afterAll(async () => {
    await nginx?.stop()
    await new Promise(resolve => app?.close(resolve))
  })

  it('sends the exact bytes with our type, ETag, immutable caching and nosniff', async () => {
    for (const bytes of [testJpeg('nginx jpeg', 300_000), testPng('nginx png', 64, 48)]) {
      const stored = await storage.store(bytes)
      const res = await fetch(`${nginx.url}/images/${stored.hash}`)
      expect(res.status).toBe(200)
      const body = Buffer.from(await res.arrayBuffer())
      expect(createHash('sha256').update(body).digest('hex')).toBe(stored.sha256)
      expect(body.length).toBe(bytes.length)
      expect({
        type: res.headers.get('content-type'),
        etag: res.headers.get('etag'),
        cache: res.headers.get('cache-control'),
        nosniff: res.headers.get('x-content-type-options'),
        accel: res.headers.get('x-accel-redirect')
      }).toEqual({
        type: stored.mimeType, // a PNG stays image/png although every object is named .jpg
        etag: `"${stored.hash}"`,
        cache: 'public, max-age=31536000, immutable',
        nosniff: 'nosniff',
        accel: null
      })
    }
  })

  it('revalidates with 304 on our ETag, and HEAD gets the headers without a body', async () => {
    const stored = await storage.store(testJpeg('nginx 304', 50_000))
    const first = await fetch(`${nginx.url}/images/${stored.hash}`)
    const etag = first.headers.get('etag')!
    await first.arrayBuffer()
    const again = await fetch(`${nginx.url}/images/${stored.hash}`, { headers: { 'If-None-Match': etag } })
    expect(again.status).toBe(304)
    expect(again.headers.get('etag')).toBe(etag)
    expect((await again.arrayBuffer()).byteLength).toBe(0)
    const changed = await fetch(`${nginx.url}/images/${stored.hash}`, {
      headers: { 'If-None-Match': '"something-else"' }
    })
    expect(changed.status).toBe(200)
    expect((await changed.arrayBuffer()).byteLength).toBe(stored.size)
    const head = await fetch(`${nginx.url}/images/${stored.hash}`, { method: 'HEAD' })
    expect({
      status: head.status,
      length: head.headers.get('content-length'),
      type: head.headers.get('content-type')
    }).toEqual({ status: 200, length: String(stored.size), type: 'image/jpeg' })
  })

  it('answers 400 for a bad ref and 404 for a missing one, and the internal location is not reachable', async () => {
    const stored = await storage.store(testJpeg('nginx internal', 20_000))
    expect((await fetch(`${nginx.url}/images/..%2F..%2Fetc%2Fpasswd`)).status).toBe(400)
    expect((await fetch(`${nginx.url}/images/not-a-ref`)).status).toBe(400)
    expect((await fetch(`${nginx.url}/images/${'0'.repeat(64)}`)).status).toBe(404)
    expect((await fetch(`${nginx.url}/protected-images/${stored.key}`)).status).toBe(404)
  })

  it.each(Object.keys(DAMAGES))('a %s file is a 500 from nginx, never the redirect nor its bytes', async damage => {
    const bytes = testJpeg(`nginx ${damage}`, 120_000)
    const stored = await storage.store(bytes)
    await wholeSecondTimes(stored.path)
    for (let i = 0; i < 2; i++) {
      // verified, then sent from the record
      const good = await fetch(`${nginx.url}/images/${stored.hash}`)
      expect(Buffer.from(await good.arrayBuffer()).equals(bytes)).toBe(true)
    }
    await DAMAGES[damage as keyof typeof DAMAGES](stored.path, testJpeg(`nginx other ${damage}`, 120_000))
    reported.length = 0
    for (const headers of [{}, { Range: 'bytes=0-99' }] as Array<Record<string, string>>) {
      const res = await fetch(`${nginx.url}/images/${stored.hash}`, { headers })
      const body = Buffer.from(await res.arrayBuffer())
      expect({ status: res.status, cache: res.headers.get('cache-control'), etag: res.headers.get('etag') }).toEqual({
        status: 500,
        cache: null,
        etag: null
      })
      expect(body.includes(bytes.subarray(0, 64))).toBe(false)
    }
    expect(reported).toEqual(['ERR_INTEGRITY', 'ERR_INTEGRITY'])
  })

  // not as another user: the workers run as ourselves, who can read everything
  it.skipIf(process.getuid?.() !== 0)(
    'an object www-data cannot read is a 403 from nginx, not bytes: modes matter',
    async () => {
      const stored = await storage.store(testJpeg('nginx private', 20_000))
      await chmod(stored.path, 0o600)
      expect((await fetch(`${nginx.url}/images/${stored.hash}`)).status).toBe(403)
    }
  )
})
