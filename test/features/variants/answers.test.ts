// Variants as their callers meet them: one caller's abort is not another's failure; a repair running beside a
// render leaves the render's temp file alone; a source that cannot be rendered is the client's 422, not a 500; an
// Express route with a :preset on a handler without variants answers 404, never the original under a variant's
// long-cached URL.
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
// @ts-expect-error express ships no types (the tests use it as the dashboard does, from JavaScript)
import express from 'express'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { createVariants } from '../../../src/features/variants/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

async function listening(handler: (req: any, res: any) => void): Promise<{ url: string; close: () => void }> {
  const server = createServer(handler).listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }
}

describe('variants shared between callers', () => {
  it("one caller's abort fails that caller alone: another asking for the same variant gets it", async () => {
    const storage = new FilesystemDriver({ root: await tempDir('sai-variant-abort') })
    const { sha256 } = await storage.store(testJpeg('shared render', 60_000))
    const variants = createVariants(storage)
    const controller = new AbortController()
    const first = variants.get(sha256, 'thumb', { signal: controller.signal })
    const second = variants.get(sha256, 'thumb')
    controller.abort()
    await expect(first).rejects.toMatchObject({ name: 'AbortError' })
    expect((await second).bytes.length).toBeGreaterThan(0)
    expect(await variants.has(sha256, 'thumb')).toBe(true)
    await variants.close()
  })

  it("verify --repair beside a render leaves the render's temp file: the render's commit succeeds", async () => {
    const storage = new FilesystemDriver({ root: await tempDir('sai-variant-temp') })
    const { sha256 } = await storage.store(testJpeg('rendered beside a repair', 20_000))
    const variants = createVariants(storage)
    const cache = (variants as unknown as { cache: { begin: (s: string, p: unknown) => Promise<any> } }).cache
    const pending = await cache.begin(sha256, variants.preset('thumb'))
    const report = await variants.verify({ repair: true })
    expect(report.problems).toEqual([])
    const bytes = (await variants.get(sha256, 'webp')).bytes // any whole variant's bytes will do for the entry
    await expect(pending.commit(bytes)).resolves.toMatchObject({ sha256: expect.any(String) })
    await variants.close()
  })
})

describe('the handler and variants', () => {
  it('a source that cannot be rendered is 422, not 500, and no onError', async () => {
    const storage = new FilesystemDriver({ root: await tempDir('sai-variant-422') })
    const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7)])
    const { sha256 } = await storage.store(broken, { allowNonImage: true })
    const errors: unknown[] = []
    const handler = createImageHandler(storage, { variants: createVariants(storage), onError: err => errors.push(err) })
    const server = await listening(handler)
    try {
      const answer = await fetch(`${server.url}/${sha256}/thumb`)
      expect(answer.status).toBe(422)
      expect(errors).toEqual([])
    } finally {
      server.close()
    }
  })

  it('an Express route with :preset on a handler without variants: 404, not the original', async () => {
    const storage = new FilesystemDriver({ root: await tempDir('sai-variant-express') })
    const { sha256 } = await storage.store(testJpeg('no variants here'))
    const app = express()
    app.get('/images/:ref/:preset', createImageHandler(storage))
    app.get('/images/:ref', createImageHandler(storage))
    const server = await listening(app)
    try {
      expect((await fetch(`${server.url}/images/${sha256}/thumb`)).status).toBe(404)
      expect((await fetch(`${server.url}/images/${sha256}`)).status).toBe(200)
    } finally {
      server.close()
    }
  })
})
