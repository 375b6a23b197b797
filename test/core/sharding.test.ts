import { describe, expect, it } from 'vitest'
import { hashOfDecodedKey, PrefixSharding, prefixKeys, shardingFrom } from '../../src/core/sharding.js'

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
      `../cd/${hash}.jpg`,
      `abc/d/${hash}.jpg`,
      `ab-cd/${hash}.jpg`,
      `ab/cd/${hash.slice(0, 63)}g.jpg`,
      `ab/cd/abCD${hash.slice(4)}.jpg`,
      `ab/cd/${hash}.JPG`,
      `ab/cd/${hash}xjpg`,
      `ab/cd/${hash}0.jpg`
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

describe('the sharding descriptor', () => {
  it('is plain data, rebuilt from a clone and from the source text alone (as the walk worker does): same keys', () => {
    for (const init of [{}, { depth: 1, width: 3 }, { depth: 0 }, { depth: 3, width: 1 }]) {
      const sharding = new PrefixSharding(init)
      const cloned = structuredClone(sharding.descriptor)
      expect(cloned).toEqual({ kind: 'prefix', depth: sharding.depth, width: sharding.width })
      // nothing in scope but the function's own text
      const fromSource = new Function(`return (${prefixKeys.toString()})`)()(cloned)
      for (const rebuilt of [shardingFrom(cloned), fromSource]) {
        expect(rebuilt.encode(hash)).toBe(sharding.encode(hash))
        expect(rebuilt.decode(sharding.encode(hash))).toBe(hash)
        expect(rebuilt.decode(`zz/${hash}.jpg`)).toBeUndefined()
        // a digit of the folders or of the name off the other's: not its key
        const other = `0${hash.slice(1)}`
        const mixed = [`${sharding.dirOf(hash)}${other}.jpg`, `${sharding.dirOf(other)}${hash}.jpg`]
        expect(mixed.map(key => rebuilt.decode(key))).toEqual(
          sharding.depth > 0 ? [undefined, undefined] : [other, hash]
        )
        expect(rebuilt.isShardDir('abc'.slice(0, sharding.width))).toBe(true)
        expect(rebuilt.isShardDir('.tmp')).toBe(false)
      }
      expect(hashOfDecodedKey(sharding.encode(hash))).toBe(hash)
    }
  })
})
