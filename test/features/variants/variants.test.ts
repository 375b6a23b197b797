import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import { createDeflate } from 'node:zlib'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { MemoryDriver } from '../../../src/drivers/memory/index.js'
import { createImageHandler } from '../../../src/features/http/index.js'
import { createVariants } from '../../../src/features/variants/index.js'
import { testJpeg } from '../../../src/testing/index.js'
// @ts-expect-error a plain ES module without types
import { cameraFrame } from '../../../examples/frames.mjs'
import { startChild } from '../../infra/helpers/child.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const CLI = join(ROOT, 'dist/cli.js')
const frames: Buffer[] = []

beforeAll(() => {
  // the cameras' frames: 2880x1616 JPEGs of about 600 KB
  for (const seed of [1, 2]) frames.push(Buffer.from(cameraFrame(seed)))
})

async function cacheFiles(dir: string): Promise<string[]> {
  const found: string[] = []
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(d, entry.name))
      else found.push(join(d, entry.name))
    }
  }
  await walk(dir)
  return found
}

describe('variants of real camera frames', () => {
  it(
    'thumb is 400 px wide WebP, webp is full size, custom presets give their format and size; never ' + 'enlarged',
    async () => {
      const storage = new FilesystemDriver({ root: await tempDir() })
      const variants = createVariants(storage, {
        presets: {
          square: { width: 200, height: 200, fit: 'cover', format: 'jpeg', quality: 70 },
          tiny: { width: 64, format: 'avif', quality: 50 }
        }
      })
      const { hash } = await storage.store(frames[0]!)
      const expected = {
        thumb: ['webp', 400, 224],
        webp: ['webp', 2880, 1616],
        square: ['jpeg', 200, 200],
        tiny: ['heif', 64, 36]
      }
      for (const [preset, [format, width, height]] of Object.entries(expected)) {
        const variant = await variants.get(hash, preset)
        const meta = await sharp(variant.bytes).metadata() // decoded, not trusted
        expect({ preset, format: meta.format, width: meta.width, height: meta.height }).toEqual({
          preset,
          format,
          width,
          height
        })
        expect({ width: variant.width, height: variant.height, size: variant.size, cached: variant.cached }).toEqual({
          width,
          height,
          size: variant.bytes.length,
          cached: false
        })
        expect(variant.mimeType).toBe(
          preset === 'square' ? 'image/jpeg' : preset === 'tiny' ? 'image/avif' : 'image/webp'
        )
      }
      const small = await storage.store(await sharp(frames[1]!).resize(300).jpeg().toBuffer())
      expect((await variants.get(small.hash, 'thumb')).width).toBe(300) // never enlarged
    }
  )

  it(
    'is made once: later gets are cached and identical; 16 concurrent gets make one; a changed preset ' +
      'is a new variant',
    async () => {
      const root = await tempDir()
      const storage = new FilesystemDriver({ root })
      const { hash } = await storage.store(frames[1]!)
      const variants = createVariants(storage)
      const all = await Promise.all(Array.from({ length: 16 }, async () => await variants.get(hash, 'thumb')))
      expect(all.filter(v => !v.cached)).toHaveLength(1)
      expect(new Set(all.map(v => v.bytes.toString('base64'))).size).toBe(1)
      expect(await cacheFiles(join(root, '.variants'))).toHaveLength(1)
      const again = await createVariants(storage).get(hash, 'thumb') // a new process would see the cache
      expect(again.cached).toBe(true)
      expect(again.etag).toBe(all[0]!.etag)
      const changed = await createVariants(storage, {
        presets: { thumb: { width: 320, format: 'webp', quality: 80 } }
      }).get(hash, 'thumb')
      expect(changed.etag).not.toBe(all[0]!.etag)
      expect(changed.cached).toBe(false)
      expect(changed.width).toBe(320)
    }
  )

  it(
    'a lookup sees an entry this process made at once, and one another process made in a folder it had ' +
      'seen missing a second later',
    async () => {
      const root = await tempDir()
      const storage = new FilesystemDriver({ root })
      const [a, b] = await Promise.all(frames.map(async frame => await storage.store(frame)))
      const variants = createVariants(storage)
      for (const { hash } of [a!, b!]) expect(await variants.has(hash, 'thumb')).toBe(false) // no folder made yet
      await variants.get(a!.hash, 'thumb')
      expect(await variants.has(a!.hash, 'thumb')).toBe(true)
      // another process makes b's: its shard folder (maybe its first-level folder too) appears under
      // this one's listings
      const child = startChild('variant', { root, ref: b!.hash, preset: 'thumb', count: 1, startAt: Date.now() })
      expect(await child.done).toBe(0)
      await new Promise(resolve => setTimeout(resolve, 1100))
      expect(await variants.has(b!.hash, 'thumb')).toBe(true)
      // isCached: the same answers at once, for a SHA-256 hex in either case, and nothing else
      expect([
        variants.isCached(a!.sha256, 'thumb'),
        variants.isCached(b!.sha256.toUpperCase(), 'thumb'),
        variants.isCached('0'.repeat(64), 'thumb')
      ]).toEqual([true, true, false])
      for (const bad of ['../'.repeat(21) + 'x', 'g'.repeat(64), a!.sha256.slice(1)])
        expect(() => variants.isCached(bad, 'thumb')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REF' }))
      expect(() => variants.isCached(a!.sha256, 'nope')).toThrow()
    }
  )

  it('two processes asking at once leave one cache file and no temp', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const { hash } = await storage.store(frames[0]!)
    const startAt = Date.now() + 1500
    const children = [0, 1].map(() => startChild('variant', { root, ref: hash, preset: 'webp', count: 4, startAt }))
    expect(await Promise.all(children.map(async c => await c.done))).toEqual([0, 0])
    const results = children.flatMap(c => c.lines())
    expect(results).toHaveLength(8)
    expect(new Set(results.map(r => r.key)).size).toBe(1)
    expect(await cacheFiles(join(root, '.variants'))).toHaveLength(1)
  })

  it('a damaged cache entry is made again, never served; verify finds damage, strays and orphans', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const { hash } = await storage.store(frames[0]!)
    const first = await createVariants(storage).get(hash, 'thumb')
    const [file] = await cacheFiles(join(root, '.variants'))
    const bytes = await readFile(file!)
    bytes[100] = bytes[100]! ^ 0xff
    await writeFile(file!, bytes)
    const cli = (args: string[]): { code: number | null; stdout: string } => {
      const r = spawnSync(process.execPath, [CLI, ...args], {
        env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root },
        encoding: 'utf8'
      })
      return { code: r.status, stdout: r.stdout }
    }
    expect(
      JSON.parse(cli(['verify', '--json']).stdout).variants.problems.map((p: { reason: string }) => p.reason)
    ).toEqual(['corrupt'])
    const again = await createVariants(storage).get(hash, 'thumb')
    expect(again.cached).toBe(false)
    expect(Buffer.compare(again.bytes, first.bytes)).toBe(0)
    // a variant whose source was deleted, and a temp a crash left
    const other = await storage.store(frames[1]!)
    await createVariants(storage).get(other.hash, 'thumb')
    await storage.delete(other.hash)
    const crashed = join(root, '.variants', hash.slice(0, 2), hash.slice(2, 4), '.crashed.tmp')
    await writeFile(crashed, 'x')
    const hoursAgo = new Date(Date.now() - 2 * 3_600_000) // (a temp younger than an hour may be a render's under way)
    await utimes(crashed, hoursAgo, hoursAgo)
    const found = JSON.parse(cli(['verify', '--json']).stdout)
    expect(found.variants.problems.map((p: { reason: string }) => p.reason).sort()).toEqual(['orphan', 'stray'])
    expect(cli(['verify', '--repair']).code).toBe(0)
    expect(cli(['verify']).code).toBe(0)
    expect(JSON.parse(cli(['stats', '--json']).stdout).variants).toMatchObject({
      entries: 1,
      byPreset: { thumb: { entries: 1 } }
    })
  })

  it('a 20000x20000 PNG bomb is ERR_TOO_LARGE, quickly, with bounded memory', async () => {
    const bomb = await pngBomb(20_000, 20_000)
    expect(bomb.length).toBeLessThan(5_000_000) // 1.2 GB of pixels in a few MB
    const dir = await tempDir()
    await writeFile(join(dir, 'bomb.png'), bomb)
    const script = `
      import { FilesystemDriver } from '${ROOT}/dist/drivers/fs.js'
      import { createVariants } from '${ROOT}/dist/variants.js'
      const storage = new FilesystemDriver({ root: '${dir}/store' })
      const { hash } = await storage.store({ path: '${dir}/bomb.png' })
      const started = performance.now()
      const error = await createVariants(storage).get(hash, 'thumb').catch(err => err)
      const maxRssMB = process.resourceUsage().maxRSS / 1024
      console.log(JSON.stringify({ code: error.code, ms: performance.now() - started, maxRssMB }))`
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }))
    expect(out.code).toBe('ERR_TOO_LARGE')
    expect(out.ms).toBeLessThan(2000)
    expect(out.maxRssMB).toBeLessThan(300) // decoding it would take 1.2 GB
    // the cache entry's temp file, opened while sharp read the header, is gone with the failure
    expect(await cacheFiles(join(dir, 'store', '.variants'))).toEqual([])
  })

  it('other drivers need SAI_IMAGE_VARIANTS_PATH (or path)', async () => {
    expect(() => createVariants(new MemoryDriver())).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
    const memory = new MemoryDriver()
    const { hash } = await memory.store(testJpeg('memory variant', 5000))
    const dir = await tempDir()
    const variant = await createVariants(memory, { path: dir }).get(hash, 'thumb')
    expect(variant.width).toBe(8)
    expect(await cacheFiles(dir)).toHaveLength(1)
    expect(await createVariants(memory, { path: dir }).remove(hash)).toBe(1)
    expect(await cacheFiles(dir)).toHaveLength(0)
  })
})

describe('variants over HTTP', () => {
  const servers: Server[] = []
  afterAll(() => {
    for (const server of servers) server.close()
  })
  const listen = async (server: Server): Promise<string> => {
    servers.push(server)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`
  }

  it(
    'serves /images/:ref/:preset with its own ETag, immutable caching, 304, HEAD, nosniff, 404 for an ' +
      'unknown preset, and X-Accel-Redirect',
    async () => {
      const root = await tempDir()
      const storage = new FilesystemDriver({ root })
      const { hash } = await storage.store(frames[0]!)
      const variants = createVariants(storage)
      const base = await listen(createServer(createImageHandler(storage, { variants })))
      const res = await fetch(`${base}/images/${hash}/thumb`)
      expect(res.status).toBe(200)
      const body = Buffer.from(await res.arrayBuffer())
      expect((await sharp(body).metadata()).width).toBe(400)
      const etag = res.headers.get('etag')!
      expect(etag).toMatch(new RegExp(`^"${hash}\\.thumb\\.[0-9a-f]{12}"$`))
      expect(etag).not.toBe(`"${hash}"`)
      expect({
        type: res.headers.get('content-type'),
        cache: res.headers.get('cache-control'),
        nosniff: res.headers.get('x-content-type-options')
      }).toEqual({ type: 'image/webp', cache: 'public, max-age=31536000, immutable', nosniff: 'nosniff' })
      expect((await fetch(`${base}/images/${hash}/thumb`, { headers: { 'If-None-Match': etag } })).status).toBe(304)
      const head = await fetch(`${base}/images/${hash}/thumb`, { method: 'HEAD' })
      expect({ status: head.status, length: head.headers.get('content-length') }).toEqual({
        status: 200,
        length: String(body.length)
      })
      expect((await fetch(`${base}/images/${hash}/poster`)).status).toBe(404)
      expect((await fetch(`${base}/images/${'0'.repeat(64)}/thumb`)).status).toBe(404)
      expect((await fetch(`${base}/images/not-a-ref/thumb`)).status).toBe(400)
      expect((await fetch(`${base}/images/${hash}`)).headers.get('etag')).toBe(`"${hash}"`) // the original still
      const accel = await listen(
        createServer(createImageHandler(storage, { variants, accelRedirect: '/protected-images/' }))
      )
      const redirected = await fetch(`${accel}/images/${hash}/thumb`)
      expect(redirected.headers.get('x-accel-redirect')).toMatch(
        new RegExp(`^/protected-images/\\.variants/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}\\.thumb\\.`)
      )
    }
  )
})

describe('sai-images variants', () => {
  it('pre-generates for every object, stops cleanly on Ctrl-C, and resumes without making anything twice', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const count = 24
    for (let seed = 10; seed < 10 + count; seed++) await storage.store(Buffer.from(cameraFrame(seed, 960, 540)))
    const env = { ...process.env, SAI_IMAGE_STORAGE_PATH: root }
    const dry = JSON.parse(
      execFileSync(process.execPath, [CLI, 'variants', 'thumb', 'webp', '--dry-run', '--json'], {
        env,
        encoding: 'utf8'
      })
    )
    expect(dry).toMatchObject({ objects: count, made: 2 * count, cached: 0 })
    expect(await cacheFiles(join(root, '.variants'))).toHaveLength(0)

    const child = spawn(process.execPath, [CLI, 'variants', 'thumb', 'webp', '--json', '--concurrency', '2'], { env })
    let stdout = ''
    child.stdout.on('data', d => {
      stdout += d
    })
    const closed = new Promise(resolve => child.on('close', resolve))
    while ((await cacheFiles(join(root, '.variants'))).length < 6) await new Promise(resolve => setTimeout(resolve, 20))
    child.kill('SIGINT')
    expect(await closed).toBe(130)
    const stopped = JSON.parse(stdout)
    expect(stopped.interrupted).toBe(true)
    const afterStop = await cacheFiles(join(root, '.variants'))
    expect(afterStop.every(f => !f.endsWith('.tmp'))).toBe(true)
    expect(afterStop.length).toBeLessThan(2 * count)

    const resumed = JSON.parse(
      execFileSync(process.execPath, [CLI, 'variants', 'thumb', 'webp', '--json'], { env, encoding: 'utf8' })
    )
    expect(resumed).toMatchObject({
      objects: count,
      made: 2 * count - afterStop.length,
      cached: afterStop.length,
      failed: [],
      interrupted: false
    })
    expect(await cacheFiles(join(root, '.variants'))).toHaveLength(2 * count)
  })
})

/** A real PNG of `width` x `height` black pixels: its zlib stream of zeros packs 1.2 GB into a few MB. */
async function pngBomb(width: number, height: number): Promise<Buffer> {
  const { crc32 } = await import('node:zlib')
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body) >>> 0)
    return Buffer.concat([length, body, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8-bit RGB
  const deflate = createDeflate({ level: 9 })
  const parts: Buffer[] = []
  deflate.on('data', (d: Buffer) => parts.push(d))
  const row = Buffer.alloc(1 + width * 3) // filter byte 0, then black
  const done = new Promise(resolve => deflate.on('end', resolve))
  for (let y = 0; y < height; y++) {
    if (!deflate.write(row)) await new Promise(resolve => deflate.once('drain', resolve))
  }
  deflate.end()
  await done
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', Buffer.concat(parts)),
    chunk('IEND', Buffer.alloc(0))
  ])
}
