/** Reading, refs, misses, deletes and aborts, the same on every driver. */
import { sha256ToCid } from '../../core/ref.js'
import { BAD_REFS, chunked, sha256, type Suite } from './index.js'

export function readCases({ test, expect, testJpeg, countObjects }: Suite): void {
  test('rejects malformed refs with ERR_INVALID_REF in every call', async storage => {
    for (const ref of BAD_REFS) {
      const calls = [storage.fetch, storage.exists, storage.stat, storage.delete, storage.fetchStream]
      for (const call of calls)
        await expect((call as (ref: string) => Promise<unknown>).call(storage, ref)).rejects.toMatchObject({
          code: 'ERR_INVALID_REF'
        })
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
}
