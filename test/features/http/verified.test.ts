import { open } from 'node:fs/promises'
import { createServer, get, type Server } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createImageHandler, type ImageHandlerOptions } from '../../../src/features/http/index.js'
import { VerifiedRecord } from '../../../src/features/http/verified.js'
import { testJpeg } from '../../../src/testing/index.js'
import { DAMAGES, wholeSecondTimes } from '../../infra/helpers/damage.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const servers: Server[] = []
afterAll(() => {
  for (const server of servers) server.close()
})

async function listen(storage: FilesystemDriver, options: ImageHandlerOptions): Promise<string> {
  const server = createServer(createImageHandler(storage, options))
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

describe('the record of verified files', () => {
  it('forgets the oldest verification past maxEntries, and any past maxAgeMs; 0 keeps nothing', () => {
    const record = new VerifiedRecord({ maxEntries: 2, maxAgeMs: 1000 })
    const entry = (at: number) => ({ path: '/p', key: 'k', size: 1, mimeType: 'image/jpeg', identity: 'i', at })
    record.set('a', entry(0))
    record.set('b', entry(0))
    record.set('a', entry(10)) // verified again: now the newest
    record.set('c', entry(20))
    expect([record.get('a', 20)?.at, record.get('b', 20), record.get('c', 20)?.at]).toEqual([10, undefined, 20])
    expect(record.get('a', 1009)?.at).toBe(10)
    expect(record.get('a', 1010)).toBeUndefined()
    expect(record.size).toBe(1)
    for (const off of [new VerifiedRecord({ maxEntries: 0 }), new VerifiedRecord({ maxAgeMs: 0 })]) {
      off.set('a', entry(0))
      expect(off.get('a', 0)).toBeUndefined()
    }
  })

  it('refuses a bound that is no number of 0 or more (NaN kept every entry, for ever)', () => {
    for (const verified of [{ maxEntries: Number.NaN }, { maxAgeMs: -1 }, { maxAgeMs: Number.POSITIVE_INFINITY }])
      expect(() => new VerifiedRecord(verified)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
  })
})

// a file verified and recorded, then changed by another process: hashed again, and a 500
const modes: Array<[string, ImageHandlerOptions]> = [
  ['read whole', {}],
  ['streamed', { verifyBeforeSendBytes: 1000 }],
  ['accelRedirect', { accelRedirect: '/protected-images/' }]
]

describe.each(modes)('a recorded file that changes is verified again (%s)', (mode, options) => {
  it.each(Object.keys(DAMAGES))('%s: 500 for GET and Range, reported, never a redirect', async damage => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const stored = await storage.store(testJpeg(`verified ${mode} ${damage}`, 100_000))
    const other = testJpeg(`another frame ${damage}`, 100_000)
    await wholeSecondTimes(stored.path)
    const reported: string[] = []
    const base = await listen(storage, { ...options, onError: err => reported.push((err as { code: string }).code) })
    const url = `${base}/images/${stored.hash}`
    for (let i = 0; i < 2; i++) {
      // the second answer comes from the record
      const good = await fetch(url)
      expect(good.status).toBe(200)
      const body = Buffer.from(await good.arrayBuffer())
      if (options.accelRedirect === undefined) expect(body.length).toBe(100_000)
      else expect(good.headers.get('x-accel-redirect')).toBe(`/protected-images/${stored.key}`)
    }
    await DAMAGES[damage as keyof typeof DAMAGES](stored.path, other)
    for (const headers of [{}, { Range: 'bytes=0-99' }, { Range: 'bytes=-10' }] as Array<Record<string, string>>) {
      const res = await fetch(url, { headers })
      if (mode === 'streamed' && res.status === 200 && !('Range' in headers)) {
        // a whole large object streams, verified as it goes: cut before its end, never complete
        await expect(res.arrayBuffer()).rejects.toThrow()
        continue
      }
      expect({
        headers,
        status: res.status,
        accel: res.headers.get('x-accel-redirect'),
        body: await res.text()
      }).toEqual({ headers, status: 500, accel: null, body: 'Internal Server Error\n' })
    }
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(reported).toEqual(['ERR_INTEGRITY', 'ERR_INTEGRITY', 'ERR_INTEGRITY'])
  })
})

describe('a file put back as it was is served again', () => {
  it('after a replacement with the right bytes, 200 with them', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const bytes = testJpeg('verified restored', 50_000)
    const stored = await storage.store(bytes)
    const base = await listen(storage, {})
    expect((await fetch(`${base}/images/${stored.hash}`)).status).toBe(200)
    await DAMAGES.replaced(stored.path, bytes)
    const res = await fetch(`${base}/images/${stored.hash}`, { headers: { Range: 'bytes=10-19' } })
    expect(res.status).toBe(206)
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true)
  })
})

// the bytes of a large file go out after its check (the record's, or the hash of a range's first answer): a write in
// place while they go out must cut the answer short of its length, never end it whole with other bytes
describe('a large file written in place while it is sent', () => {
  it('cuts the answer short (a whole GET from the record, and a first Range), never a whole body of other bytes', async () => {
    const MiB = 1024 * 1024
    const storage = new FilesystemDriver({ root: await tempDir() })
    const bytes = testJpeg('written while sent', 24 * MiB) // more than loopback's socket buffers hold
    const { hash, path } = await storage.store(bytes)
    const sent = async (base: string, range?: string): Promise<{ status: number; length: number; complete: boolean }> =>
      await new Promise((resolve, reject) => {
        const req = get(`${base}/${hash}`, { headers: range === undefined ? {} : { range } }, res => {
          res.pause()
          let length = 0
          res.on('data', (chunk: Buffer) => (length += chunk.length))
          res.on('close', () => resolve({ status: res.statusCode!, length, complete: res.complete }))
          // the headers are out: the file's last MiB is written in place, the same size, then the body is read
          writeAt(path, Buffer.alloc(MiB, 7), bytes.length - MiB).then(() => res.resume(), reject)
        })
        req.on('error', reject)
      })
    const recorded = await listen(storage, { verifyBeforeSendBytes: 1024 })
    expect((await fetch(`${recorded}/${hash}`, { headers: { range: 'bytes=0-0' } })).status).toBe(206) // recorded
    for (const [base, range] of [
      [recorded, undefined],
      [await listen(storage, { verifyBeforeSendBytes: 1024 }), 'bytes=0-']
    ]) {
      await writeAt(path, bytes.subarray(bytes.length - MiB), bytes.length - MiB) // the frame whole again
      const answer = await sent(base!, range)
      expect(answer.status).toBe(range === undefined ? 200 : 206)
      expect(answer.complete).toBe(false)
      expect(answer.length).toBeLessThan(bytes.length)
    }
  })
})

async function writeAt(path: string, bytes: Buffer, position: number): Promise<void> {
  const file = await open(path, 'r+')
  try {
    await file.write(bytes, 0, bytes.length, position)
  } finally {
    await file.close()
  }
}
