import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { digestBytes, HASH_SLICE, HashSlices, ImageHasher, MEMORY_SLICE } from '../../src/core/hashing.js'
import { testJpeg } from '../../src/testing/index.js'

describe('hashing in slices', () => {
  it('concurrent large inputs hash correctly, one slice per turn of the event loop across all calls', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => testJpeg(`slices ${i}`, 1_500_000 + i * 70_000))
    // a first slice of HASH_SLICE, then up to MEMORY_SLICE each
    const slices = inputs.reduce((sum, bytes) => sum + 1 + Math.ceil((bytes.length - HASH_SLICE) / MEMORY_SLICE), 0)
    // counts the turns of the event loop while they are hashed: an immediate that re-arms itself
    let turns = 0
    let counting = true
    const count = (): void => {
      if (counting) {
        turns++
        setImmediate(count)
      }
    }
    setImmediate(count)
    const slicer = new HashSlices()
    const digests = await Promise.all(
      inputs.map(async bytes => await slicer.digest(bytes, { maxBytes: 50_000_000, allowNonImage: false }))
    )
    counting = false
    expect(digests.map(d => d.sha256)).toEqual(inputs.map(bytes => createHash('sha256').update(bytes).digest('hex')))
    expect(digests.map(d => d.size)).toEqual(inputs.map(bytes => bytes.length))
    // about one turn per slice: slices of different calls never run back to back in one turn
    expect(turns).toBeGreaterThanOrEqual(slices - 2)

    // a small input is hashed at once, without a turn of the loop
    let smallTurns = 0
    const immediate = setImmediate(() => {
      smallTurns++
    })
    await slicer.update(testJpeg('slices small', 100_000), () => {})
    clearImmediate(immediate)
    expect(smallTurns).toBe(0)
  })

  it('a frame of 600 KB in two slices (two turns, not three); 5 MB in slices of at most 1 MiB', async () => {
    const slicer = new HashSlices()
    const sizes = async (length: number): Promise<number[]> => {
      const seen: number[] = []
      await slicer.update(Buffer.alloc(length), slice => seen.push(slice.length))
      return seen
    }
    expect(await sizes(614_400)).toEqual([HASH_SLICE, 614_400 - HASH_SLICE])
    const large = await sizes(5_242_880)
    expect(large[0]).toBe(HASH_SLICE)
    expect(Math.max(...large)).toBe(MEMORY_SLICE)
    expect(large.reduce((a, b) => a + b, 0)).toBe(5_242_880)
    expect(large).toHaveLength(1 + Math.ceil((5_242_880 - HASH_SLICE) / MEMORY_SLICE))
  })
})

describe('ImageHasher', () => {
  const limits = {
    maxBytes: 10_000,
    allowNonImage: false,
    names: { maxBytes: 'SAI_IMAGE_STORAGE_MAX_BYTES', allowNonImage: '--allow-non-image' }
  }
  it('counts, hashes and types bytes as they pass; refuses too many, empty and non-images, naming the setting', () => {
    const jpeg = testJpeg('hasher', 9000)
    const hasher = new ImageHasher(limits)
    for (let at = 0; at < jpeg.length; at += 1000) hasher.update(jpeg.subarray(at, at + 1000))
    expect(hasher.digest()).toEqual({
      sha256: createHash('sha256').update(jpeg).digest('hex'),
      size: 9000,
      mimeType: 'image/jpeg'
    })
    expect(() => digestBytes(testJpeg('too big', 10_001), limits)).toThrow(
      expect.objectContaining({
        code: 'ERR_TOO_LARGE',
        message: expect.stringContaining('SAI_IMAGE_STORAGE_MAX_BYTES')
      })
    )
    expect(() => new ImageHasher(limits).digest()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_INPUT' }))
    expect(() => digestBytes(Buffer.from('plain text, not an image at all'), limits)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_INPUT', message: expect.stringContaining('--allow-non-image') })
    )
    expect(
      digestBytes(Buffer.from('plain text, not an image at all'), { ...limits, allowNonImage: true }).mimeType
    ).toBe('application/octet-stream')
    expect(() => new ImageHasher(limits).update('text' as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_INPUT' })
    )
  })

  it('hands the SHA-256 of the first bytes too, where asked, whichever piece ends them', () => {
    const jpeg = testJpeg('prefix', 9000)
    const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()
    for (const prefix of [1, 999, 1000, 1001, 5000, 9000]) {
      for (const piece of [1000, 333, 9000]) {
        const hasher = new ImageHasher(limits, prefix)
        for (let at = 0; at < jpeg.length; at += piece) hasher.update(jpeg.subarray(at, at + piece))
        const digest = hasher.digest()
        expect(digest.sha256).toBe(sha256(jpeg).toString('hex'))
        expect(digest.prefixSha256).toEqual(sha256(jpeg.subarray(0, prefix)))
      }
    }
    expect(digestBytes(jpeg, limits, 9001).prefixSha256).toBeUndefined()
    expect(digestBytes(jpeg, limits).prefixSha256).toBeUndefined()
  })
})
