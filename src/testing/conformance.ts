/**
 * The behaviour every `ImageStorage` driver must have, as one suite: ours run it (filesystem,
 * memory, IPFS), and so can yours. Works with vitest and Jest: pass their `describe`, `it` and
 * `expect`, or leave them out where they are globals.
 *
 * @example
 * ```ts
 * import { describe, it, expect } from 'vitest'
 * import { describeImageStorage } from 'sai-image-storage/testing'
 *
 * describeImageStorage({ name: 'my driver', create: () => new MyDriver() }, { describe, it, expect })
 * ```
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { sha256ToCid } from '../core/ref.js'
import type { ImageStorage } from '../core/types.js'
import { seededBytes, testJpeg as makeJpeg, testPng as makePng } from './images.js'

export interface TestApi {
  describe: (name: string, body: () => void) => void
  it: (name: string, body: () => Promise<void>, timeout?: number) => void
  expect: any
}

export interface ConformanceInit {
  name: string
  /** A new, empty store for one test. */
  create: () => ImageStorage | Promise<ImageStorage>
  /** Removes what `create` made. Default: `storage.close()`. */
  destroy?: (storage: ImageStorage) => Promise<void>
  /** Per-test timeout in ms, for drivers behind a network. Default: the runner's. */
  timeout?: number
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

async function * chunked (bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield new Uint8Array(bytes.subarray(at, at + size))
}

const BAD_REFS = [
  '', '..', '../../etc/passwd', '/etc/passwd', 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64),
  `${'a'.repeat(62)}/x`, `${'a'.repeat(63)}\0`, `..${'a'.repeat(62)}`, 'a'.repeat(64) + '.jpg',
  'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', // dag-cbor
  'not a ref'
]

export function describeImageStorage (init: ConformanceInit, api: TestApi = globalThis as unknown as TestApi): void {
  const { describe, expect } = api
  const test = (name: string, body: (storage: ImageStorage) => Promise<void>): void => {
    api.it(name, async () => {
      const storage = await init.create()
      try {
        await body(storage)
      } finally {
        await (init.destroy ?? (async s => await s.close()))(storage)
      }
    }, init.timeout)
  }
  // The store may be shared and long-lived (a real IPFS node): images are unique to this run, and
  // counts are taken before and after rather than assumed to start at zero.
  const run = randomUUID()
  const testJpeg = (seed: string, size?: number): Buffer => makeJpeg(`${run} ${seed}`, size)
  const testPng = (seed: string): Buffer => makePng(`${run} ${seed}`)
  const countObjects = async (storage: ImageStorage): Promise<number> => {
    let count = 0
    for await (const _ of storage.list()) count++
    return count
  }

  describe(`ImageStorage conformance: ${init.name}`, () => {
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
      expect(Buffer.compare(await storage.fetch(result.hash), jpeg)).toBe(0)
      expect(await storage.exists(result.hash)).toBe(true)
      const stat = await storage.stat(result.hash)
      expect(stat).toMatchObject({ hash: result.hash, sha256: result.sha256, size: jpeg.length, mimeType: 'image/jpeg', key: result.key, path: result.path })
    })

    test('reports a second store of the same bytes as a duplicate, at the same address', async storage => {
      const jpeg = testJpeg('duplicate')
      const before = await countObjects(storage)
      const first = await storage.store(jpeg)
      const second = await storage.store(Buffer.from(jpeg))
      expect(second.isDuplicate).toBe(true)
      expect(second).toMatchObject({ hash: first.hash, path: first.path, key: first.key, size: first.size, sha256: first.sha256 })
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
          expect({ name, sha256: result.sha256, size: result.size }).toEqual({ name, sha256: sha256(jpeg), size: jpeg.length })
        }
        expect(await countObjects(storage)).toBe(before + 1)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })

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

    test('rejects malformed refs with ERR_INVALID_REF in every call', async storage => {
      for (const ref of BAD_REFS) {
        const calls = [storage.fetch, storage.exists, storage.stat, storage.delete, storage.fetchStream]
        for (const call of calls) await expect((call as (ref: string) => Promise<unknown>).call(storage, ref)).rejects.toMatchObject({ code: 'ERR_INVALID_REF' })
        expect(() => storage.pathOf(ref)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_REF' }))
      }
    })

    test('finds an object by upper-case SHA-256 hex and by its CIDv1', async storage => {
      const jpeg = testJpeg('spellings')
      const { sha256: hex } = await storage.store(jpeg)
      for (const ref of [hex, hex.toUpperCase(), sha256ToCid(hex)]) {
        expect(await storage.exists(ref)).toBe(true)
        expect(Buffer.compare(await storage.fetch(ref), jpeg)).toBe(0)
      }
    })

    test('answers for a missing object: exists false, fetch and stat ERR_NOT_FOUND, delete false', async storage => {
      const missing = sha256(testJpeg('never stored'))
      expect(await storage.exists(missing)).toBe(false)
      await expect(storage.fetch(missing)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
      await expect(storage.fetchStream(missing)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
      await expect(storage.stat(missing)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
      expect(await storage.delete(missing)).toBe(false)
    })

    test('deletes, and a later store writes again', async storage => {
      const jpeg = testJpeg('delete')
      const { hash } = await storage.store(jpeg)
      expect(await storage.delete(hash)).toBe(true)
      expect(await storage.exists(hash)).toBe(false)
      await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
      expect((await storage.store(jpeg)).isDuplicate).toBe(false)
    })

    test('lists every object once', async storage => {
      const stored = new Set<string>()
      for (let i = 0; i < 25; i++) stored.add((await storage.store(testJpeg(`list ${i}`))).hash)
      const listed: string[] = []
      for await (const entry of storage.list()) {
        expect(entry.path).toBe(storage.pathOf(entry.hash))
        if (stored.has(entry.hash)) listed.push(entry.hash)
      }
      expect(listed.sort()).toEqual([...stored].sort())
    })

    test('50 concurrent stores of the same bytes: exactly one is not a duplicate', async storage => {
      const jpeg = testJpeg('concurrent', 200_000)
      const before = await countObjects(storage)
      const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => await storage.store(i % 2 === 0 ? jpeg : chunked(jpeg, 65536))))
      expect(results.filter(r => !r.isDuplicate)).toHaveLength(1)
      expect(new Set(results.map(r => r.path)).size).toBe(1)
      expect(await countObjects(storage)).toBe(before + 1)
      expect(Buffer.compare(await storage.fetch(results[0]!.hash), jpeg)).toBe(0)
    })

    test('concurrent stores of different images all land', async storage => {
      const images = Array.from({ length: 40 }, (_, i) => testJpeg(`many ${i}`, 1000 + i * 500))
      const results = await Promise.all(images.map(async image => await storage.store(image)))
      expect(results.every(r => !r.isDuplicate)).toBe(true)
      for (const [i, result] of results.entries()) expect(Buffer.compare(await storage.fetch(result.hash), images[i]!)).toBe(0)
    })

    test('fetchStream yields the stored bytes', async storage => {
      const jpeg = testJpeg('stream', 3 * 1024 * 1024 + 17)
      const { hash } = await storage.store(chunked(jpeg, 64 * 1024))
      const chunks: Buffer[] = []
      for await (const chunk of await storage.fetchStream(hash)) chunks.push(chunk as Buffer)
      expect(Buffer.compare(Buffer.concat(chunks), jpeg)).toBe(0)
    })

    test('an aborted signal stops every call', async storage => {
      const jpeg = testJpeg('abort')
      const before = await countObjects(storage)
      const { hash } = await storage.store(jpeg)
      const signal = AbortSignal.abort()
      const aborted = { name: 'AbortError' }
      await expect(storage.store(testJpeg('abort 2'), { signal })).rejects.toMatchObject(aborted)
      await expect(storage.fetch(hash, { signal })).rejects.toMatchObject(aborted)
      await expect(storage.exists(hash, { signal })).rejects.toMatchObject(aborted)
      await expect(storage.stat(hash, { signal })).rejects.toMatchObject(aborted)
      await expect(storage.delete(hash, { signal })).rejects.toMatchObject(aborted)
      expect(await storage.exists(hash)).toBe(true)
      expect(await countObjects(storage)).toBe(before + 1)
    })
  })
}
