import { describe, expect, it } from 'vitest'
import { decodeImageString } from '../../src/core/input.js'
import { testJpeg } from '../../src/testing/index.js'

const limits = { maxBytes: 1_000_000, allowNonImage: false }

describe('decodeImageString: strict base64 and data URLs', () => {
  const jpeg = testJpeg('base64')
  it.each([
    ['padded base64', jpeg.toString('base64')],
    ['base64url', jpeg.toString('base64url')],
    ['line-wrapped base64', jpeg.toString('base64').replace(/.{64}/g, '$&\n')],
    ['a data URL', `data:image/jpeg;base64,${jpeg.toString('base64')}`],
    ['a data URL with parameters', `data:image/jpeg;name=frame.jpg;BASE64,${jpeg.toString('base64')}`]
  ])('decodes %s', (_name, text) => {
    expect(Buffer.compare(decodeImageString(text, limits.maxBytes), jpeg)).toBe(0)
  })

  it.each([
    ['a character outside the alphabet', 'QUJD*A=='],
    ['padding in the middle', 'QU=DQUJD'],
    ['a stray length', 'QUJDQ'],
    ['too much padding', 'QQ==='],
    ['mixed alphabets', 'QU+D_A=='],
    ['a non-base64 data URL', 'data:image/jpeg,abc'],
    ['a data URL without a comma', 'data:image/jpeg;base64'],
    ['a file path', './frames/cam1.jpg']
  ])('rejects %s with ERR_INVALID_INPUT', (_name, text) => {
    expect(() => decodeImageString(text, limits.maxBytes)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_INPUT' })
    )
  })

  it('rejects oversize base64 before decoding it', () => {
    expect(() => decodeImageString('A'.repeat(4000), 2999)).toThrow(
      expect.objectContaining({ code: 'ERR_TOO_LARGE', limit: 2999 })
    )
  })
})
