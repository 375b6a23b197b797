/**
 * What every driver does with what it is given: the bytes and their address, duplicates, every input form, bad input.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { ImageStorage } from '../../core/types.js'
import { seededBytes } from '../images.js'
import { chunked, sha256, type Suite } from './index.js'

export function storeCases({ test, expect, testJpeg, testPng, countObjects }: Suite): void {
  test('stores, then fetches exactly the same bytes', async storage => {
    const jpeg = testJpeg('store-fetch', 4096)
    const result = await storage.store(jpeg)
    expect(result.sha256).toBe(sha256(jpeg))
    expect(result.size).toBe(jpeg.length)
    expect(result.isDuplicate).toBe(false)
    expect(result.mimeType).toBe('image/jpeg')
    expect(result.storedAt).toBeInstanceOf(Date)
    expect(result.path).toBe(storage.pathOf(result.hash))
    expect(result.key).toBe(storage.keyOf(result.hash))
    expect(result.path.endsWith(result.key)).toBe(true)
    // a URL where the object is no local file, and `path` its alias (deprecated there)
    if (result.url !== undefined) expect(result.path).toBe(result.url)
    expect(Buffer.compare(await storage.fetch(result.hash), jpeg)).toBe(0)
    expect(await storage.exists(result.hash)).toBe(true)
    const stat = await storage.stat(result.hash)
    expect(stat).toMatchObject({
      hash: result.hash,
      sha256: result.sha256,
      size: jpeg.length,
      mimeType: 'image/jpeg',
      key: result.key,
      path: result.path
    })
    expect(stat.url).toBe(result.url)
  })

  test('reports a second store of the same bytes as a duplicate, at the same address', async storage => {
    const jpeg = testJpeg('duplicate')
    const before = await countObjects(storage)
    const first = await storage.store(jpeg)
    const second = await storage.store(Buffer.from(jpeg))
    expect(second.isDuplicate).toBe(true)
    expect(second).toMatchObject({
      hash: first.hash,
      path: first.path,
      key: first.key,
      size: first.size,
      sha256: first.sha256
    })
    expect(await countObjects(storage)).toBe(before + 1)
  })

  test('gives every input form the same address', async storage => {
    const jpeg = testJpeg('inputs', 3000)
    const dir = await mkdtemp(join(tmpdir(), 'sai-conformance-'))
    const before = await countObjects(storage)
    try {
      await writeFile(join(dir, 'frame.jpg'), jpeg)
      const padded = Buffer.concat([Buffer.from('xx'), jpeg, Buffer.from('yy')])
      const base64 = jpeg.toString('base64')
      const inputs: Array<[string, () => Parameters<ImageStorage['store']>[0]]> = [
        ['Buffer', () => jpeg],
        ['Uint8Array view at an offset', () => new Uint8Array(padded.buffer, padded.byteOffset + 2, jpeg.length)],
        ['ArrayBuffer', () => new Uint8Array(jpeg).buffer],
        ['base64', () => base64],
        ['base64 wrapped at 76 columns', () => base64.replace(/.{76}/g, '$&\r\n')],
        ['base64url', () => jpeg.toString('base64url')],
        ['data URL', () => `data:image/jpeg;base64,${base64}`],
        ['Node Readable', () => Readable.from(chunked(jpeg, 1000))],
        ['web ReadableStream', () => Readable.toWeb(Readable.from(chunked(jpeg, 777))) as ReadableStream<Uint8Array>],
        ['Blob', () => new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' })],
        ['async iterable of 1-byte chunks', () => chunked(jpeg, 1)],
        ['{ path }', () => ({ path: join(dir, 'frame.jpg') })]
      ]
      for (const [name, input] of inputs) {
        const result = await storage.store(input())
        expect({ name, sha256: result.sha256, size: result.size }).toEqual({
          name,
          sha256: sha256(jpeg),
          size: jpeg.length
        })
      }
      expect(await countObjects(storage)).toBe(before + 1)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test(
    'storeKnown, where offered: the bytes under the SHA-256 given; a SHA-256 that is not ' +
      'theirs is refused, and nothing is stored',
    async storage => {
      if (storage.storeKnown === undefined) return
      const jpeg = testJpeg('store-known', 4096)
      const result = await storage.storeKnown(jpeg, sha256(jpeg))
      expect(result).toMatchObject({ sha256: sha256(jpeg), size: jpeg.length, mimeType: 'image/jpeg' })
      expect(Buffer.compare(await storage.fetch(result.hash), jpeg)).toBe(0)
      const other = testJpeg('store-known, another', 4096)
      const before = await countObjects(storage)
      await expect(storage.storeKnown(jpeg, sha256(other))).rejects.toHaveProperty('code')
      expect(await storage.exists(sha256(other))).toBe(false)
      expect(await countObjects(storage)).toBe(before)
    }
  )

  test('rejects bad input with a typed error and stores nothing', async storage => {
    const jpeg = testJpeg('bad-input', 5000)
    const cases: Array<[Parameters<ImageStorage['store']>[0], string, object?]> = [
      ['not base64!', 'ERR_INVALID_INPUT'],
      [jpeg.toString('base64').slice(0, -1) + '*', 'ERR_INVALID_INPUT'],
      ['QUJD=A==', 'ERR_INVALID_INPUT'],
      ['data:image/jpeg,rawtext', 'ERR_INVALID_INPUT'],
      ['/tmp/frame.jpg', 'ERR_INVALID_INPUT'],
      [Buffer.alloc(0), 'ERR_INVALID_INPUT'],
      ['', 'ERR_INVALID_INPUT'],
      [chunked(Buffer.alloc(0), 1), 'ERR_INVALID_INPUT'],
      [seededBytes(4096, 'not an image'), 'ERR_INVALID_INPUT'],
      [chunked(seededBytes(100_000, 'not an image'), 1000), 'ERR_INVALID_INPUT'],
      [Readable.from(['strings, not bytes']), 'ERR_INVALID_INPUT'],
      [{ path: '/nonexistent/frame.jpg' }, 'ERR_INVALID_INPUT'],
      [42 as never, 'ERR_INVALID_INPUT'],
      [jpeg, 'ERR_TOO_LARGE', { maxBytes: 4999 }],
      [chunked(jpeg, 1000), 'ERR_TOO_LARGE', { maxBytes: 4999 }],
      [jpeg.toString('base64'), 'ERR_TOO_LARGE', { maxBytes: 4999 }],
      [new Blob([new Uint8Array(jpeg)]), 'ERR_TOO_LARGE', { maxBytes: 4999 }]
    ]
    const before = await countObjects(storage)
    for (const [input, code, options] of cases) {
      await expect(storage.store(input, options)).rejects.toMatchObject({ code })
    }
    expect(await countObjects(storage)).toBe(before)
    expect((await storage.store(jpeg, { maxBytes: 5000 })).size).toBe(5000)
  })

  test('stores any bytes with allowNonImage, typed application/octet-stream', async storage => {
    const bytes = seededBytes(1000, 'any bytes')
    const result = await storage.store(bytes, { allowNonImage: true })
    expect(result.mimeType).toBe('application/octet-stream')
    expect(Buffer.compare(await storage.fetch(result.hash), bytes)).toBe(0)
  })

  test('sniffs the type from the bytes', async storage => {
    const png = await storage.store(testPng('sniff'))
    expect(png.mimeType).toBe('image/png')
    expect((await storage.stat(png.hash)).mimeType).toBe('image/png')
  })

  test('50 concurrent stores of the same bytes: exactly one is not a duplicate', async storage => {
    const jpeg = testJpeg('concurrent', 200_000)
    const before = await countObjects(storage)
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => await storage.store(i % 2 === 0 ? jpeg : chunked(jpeg, 65536)))
    )
    expect(results.filter(r => !r.isDuplicate)).toHaveLength(1)
    expect(new Set(results.map(r => r.path)).size).toBe(1)
    expect(await countObjects(storage)).toBe(before + 1)
    expect(Buffer.compare(await storage.fetch(results[0]!.hash), jpeg)).toBe(0)
  })

  test('concurrent stores of different images all land', async storage => {
    const images = Array.from({ length: 40 }, (_, i) => testJpeg(`many ${i}`, 1000 + i * 500))
    const results = await Promise.all(images.map(async image => await storage.store(image)))
    expect(results.every(r => !r.isDuplicate)).toBe(true)
    for (const [i, result] of results.entries())
      expect(Buffer.compare(await storage.fetch(result.hash), images[i]!)).toBe(0)
  })
}
