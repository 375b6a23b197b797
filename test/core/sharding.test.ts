import { describe, expect, it } from 'vitest'
import { PrefixSharding } from '../../src/core/sharding.js'

const hash = 'abcdef0123456789'.repeat(4)

describe('PrefixSharding', () => {
  it("encodes storage.py's layout by default, and other depths and widths", () => {
    expect(new PrefixSharding().encode(hash)).toBe(`ab/cd/${hash}.jpg`)
    expect(new PrefixSharding({ depth: 1, width: 3 }).encode(hash)).toBe(`abc/${hash}.jpg`)
    expect(new PrefixSharding({ depth: 0 }).encode(hash)).toBe(`${hash}.jpg`)
    expect(new PrefixSharding({ depth: 3, width: 1 }).encode(hash)).toBe(`a/b/c/${hash}.jpg`)
  })

  it('decodes only its own keys: the same layout, a lower-case SHA-256, the .jpg name', () => {
    const sharding = new PrefixSharding()
    expect(sharding.decode(`ab/cd/${hash}.jpg`)).toBe(hash)
    for (const key of [
      `ab/ce/${hash}.jpg`,
      `ab/${hash}.jpg`,
      `AB/CD/${hash.toUpperCase()}.jpg`,
      `ab/cd/${hash}.png`,
      `ab/cd/${hash}.jpg.tmp`,
      `ab/cd/${hash.slice(1)}.jpg`,
      `../cd/${hash}.jpg`
    ]) {
      expect({ key, decoded: sharding.decode(key) }).toEqual({ key, decoded: undefined })
    }
  })

  it('names the folders of a hash, and the start of every key of a hex prefix (for a listing by prefix)', () => {
    const sharding = new PrefixSharding()
    expect(sharding.dirOf(hash)).toBe('ab/cd/')
    expect(['', 'a', 'ab', 'abc', 'abcd', 'abcde'].map(p => sharding.keyPrefix(p))).toEqual([
      '',
      'a',
      'ab/',
      'ab/c',
      'ab/cd/abcd',
      'ab/cd/abcde'
    ])
    for (const prefix of ['a', 'abc', 'abcdef0'])
      expect(sharding.encode(hash).startsWith(sharding.keyPrefix(prefix))).toBe(true)
    expect(sharding.encode(hash).startsWith(sharding.keyPrefix('abd'))).toBe(false)
    expect(new PrefixSharding({ depth: 0 }).dirOf(hash)).toBe('')
  })

  it('tells shard folders by their name, and refuses a layout it cannot be', () => {
    expect(['ab', '00', 'ff'].every(name => new PrefixSharding().isShardDir(name))).toBe(true)
    expect(['a', 'abc', 'AB', '.tmp', 'gg'].some(name => new PrefixSharding().isShardDir(name))).toBe(false)
    expect(() => new PrefixSharding({ depth: 9 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
    expect(() => new PrefixSharding({ width: 0 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }))
  })
})
