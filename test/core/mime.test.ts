import { describe, expect, it } from 'vitest'
import { digestBytes } from '../../src/core/hashing.js'
import { sniffImageType, SNIFF_BYTES } from '../../src/core/input.js'
import { testJpeg, testPng } from '../../src/testing/index.js'

const limits = { maxBytes: 1_000_000, allowNonImage: false }

describe('sniffImageType', () => {
  const riff = (format: string): Buffer =>
    Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from(format), Buffer.alloc(20)])
  const ftyp = (brand: string): Buffer =>
    Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftyp' + brand), Buffer.alloc(20)])
  it.each([
    ['image/jpeg', testJpeg('sniff')],
    ['image/png', testPng('sniff')],
    ['image/webp', riff('WEBP')],
    ['image/gif', Buffer.from('GIF89a' + ' '.repeat(26))],
    ['image/bmp', Buffer.concat([Buffer.from('BM'), Buffer.alloc(30)])],
    ['image/tiff', Buffer.from([0x49, 0x49, 0x2a, 0, ...Buffer.alloc(28)])],
    ['image/tiff', Buffer.from([0x4d, 0x4d, 0, 0x2a, ...Buffer.alloc(28)])],
    ['image/heic', ftyp('heic')],
    ['image/avif', ftyp('avif')],
    [undefined, riff('WAVE')],
    [undefined, ftyp('mp42')],
    [undefined, Buffer.from('%PDF-1.7' + ' '.repeat(24))],
    [undefined, Buffer.alloc(0)]
  ])('%s', (type, bytes) => {
    expect(sniffImageType(bytes)).toBe(type)
  })

  it('checks the type on the first bytes of a stream, before the rest arrives', () => {
    expect(() => digestBytes(Buffer.from('%PDF-1.7' + ' '.repeat(100)), limits)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_INPUT' })
    )
    expect(digestBytes(Buffer.from([0xff, 0xd8, 0xff]), limits).mimeType).toBe('image/jpeg')
  })
})

describe('the sniffed head', () => {
  it('every type is told from its first SNIFF_BYTES bytes, and a shorter head of a real image still tells it', () => {
    expect(sniffImageType(testJpeg('head', 5000).subarray(0, SNIFF_BYTES))).toBe('image/jpeg')
    expect(sniffImageType(testPng('head').subarray(0, SNIFF_BYTES))).toBe('image/png')
    expect(sniffImageType(Buffer.from([0xff, 0xd8]))).toBeUndefined() // two bytes are no JPEG
  })
})
