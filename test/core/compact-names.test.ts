import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CompactNames } from '../../src/core/compact-names.js'

const sha = (n: number): string => createHash('sha256').update(String(n)).digest('hex')

describe('CompactNames: many object names in 8 bytes each', () => {
  it('knows every name added, in either case, once each, and no other; other names (CIDs) whole', () => {
    const names = new CompactNames()
    for (let i = 0; i < 5000; i++) names.add(i % 2 === 0 ? sha(i) : sha(i).toUpperCase())
    names.add(sha(7)) // again
    names.add('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    expect(names.seal()).toBe(5001)
    for (let i = 0; i < 5000; i++) expect(names.has(sha(i).toUpperCase()) && names.has(sha(i)), String(i)).toBe(true)
    for (let i = 5000; i < 10_000; i++) expect(names.has(sha(i)), String(i)).toBe(false)
    expect(names.has('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')).toBe(true)
    expect(names.has('bafkreianother')).toBe(false)
    // each name has its own place, 0 to the count less one
    const places = new Set([...Array.from({ length: 5000 }, (_, i) => names.indexOf(sha(i)))])
    places.add(names.indexOf('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'))
    expect([places.size, Math.min(...places), Math.max(...places)]).toEqual([5001, 0, 5000])
    // asked with a SHA-256's first two words
    const words = (hex: string): [number, number] => [
      parseInt(hex.slice(0, 8), 16) | 0,
      parseInt(hex.slice(8, 16), 16) | 0
    ]
    expect([names.hasSha256Words(...words(sha(4))), names.hasSha256Words(...words(sha(5001)))]).toEqual([true, false])
  })

  it('an empty set knows nothing', () => {
    const names = new CompactNames()
    expect(names.seal()).toBe(0)
    expect(names.has(sha(1))).toBe(false)
  })
})
