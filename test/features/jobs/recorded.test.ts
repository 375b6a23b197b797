import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CompactNames } from '../../../src/core/compact-names.js'
import { RecordedItems } from '../../../src/features/jobs/recorded.js'

const sha = (n: number): string => createHash('sha256').update(String(n)).digest('hex')
/** The target's listing: these names. */
const listing = (names: string[]): CompactNames => {
  const there = new CompactNames()
  for (const name of names) there.add(name)
  there.seal()
  return there
}
/** A SHA-256 spelling that shares its first `bytes` bytes with `of`, and differs after them. */
const sharing = (of: string, bytes: number, n: number): string =>
  of.slice(0, bytes * 2) + sha(n).slice(bytes * 2, 63) + (of[63] === '0' ? '1' : '0')

describe('RecordedItems: the items a mapping records, exact and small', () => {
  it('knows every id set, with its hash, and no other; a rerun never passes over a new item', () => {
    const recorded = new RecordedItems()
    for (let i = 0; i < 20_000; i++) recorded.set(sha(i), i % 3 === 0 ? `bafkrei${i}` : sha(i))
    expect(recorded.size).toBe(20_000)
    for (let i = 0; i < 20_000; i++) expect(recorded.has(sha(i)), String(i)).toBe(true)
    for (let i = 20_000; i < 40_000; i++) expect(recorded.has(sha(i)), String(i)).toBe(false)
    // ids that share the table's key (the first 4 bytes) or all but the last byte with one recorded: not recorded
    for (let i = 0; i < 200; i++) {
      expect(recorded.has(sharing(sha(i), 4, 50_000 + i))).toBe(false)
      expect(recorded.has(sharing(sha(i), 31, 0))).toBe(false)
    }
    // spelled otherwise: another id (a mapping's ids are compared as written)
    expect(recorded.has(sha(1).toUpperCase())).toBe(false)
    // each record's own hash is looked for on the target: the id's bytes, or the other name
    const there = Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? `bafkrei${i}` : sha(i)))
    expect(recorded.forgetAbsent(listing(there))).toBe(0)
    expect(recorded.forgetAbsent(listing(there.filter((_, i) => i !== 3 && i !== 4)))).toBe(2)
    expect([recorded.has(sha(3)), recorded.has(sha(4)), recorded.has(sha(5)), recorded.size]).toEqual([
      false,
      false,
      true,
      19_998
    ])
  })

  it('ids sharing their first bytes are told apart, both ways', () => {
    const recorded = new RecordedItems()
    const first = sha(1)
    const twins = Array.from({ length: 50 }, (_, i) => sharing(first, 4, 100 + i))
    recorded.set(first, first)
    for (const twin of twins.slice(0, 25)) recorded.set(twin, twin)
    expect(recorded.has(first)).toBe(true)
    for (const twin of twins.slice(0, 25)) expect(recorded.has(twin)).toBe(true)
    for (const twin of twins.slice(25)) expect(recorded.has(twin)).toBe(false)
    expect(recorded.size).toBe(26)
  })

  it('a record read again replaces the one before; forgotten records are gone until set again', () => {
    const recorded = new RecordedItems()
    recorded.set(sha(1), 'bafkreiold')
    recorded.set(sha(1), sha(1)) // copied again, to a target addressed by SHA-256
    recorded.set(sha(2), sha(2))
    recorded.set('2024/05/cam3.jpg', sha(3)) // an import's path
    recorded.set('2024/05/cam4.jpg', sha(4))
    recorded.set('2024/05/cam5.jpg', sha(5))
    recorded.set('2024/05/cam5.jpg', 'bafkreifive') // imported again into a store that names it otherwise
    recorded.set('2024/05/cam6.jpg', 'bafkreisix')
    recorded.set('2024/05/cam6.jpg', sha(6))
    expect(recorded.size).toBe(6)
    // the target holds sha(2), sha(3), bafkreifive and sha(6), and the old copy of sha(1): its record is the new one
    expect(recorded.forgetAbsent(listing([sha(2), sha(3), 'bafkreiold', 'bafkreifive', sha(5), sha(6)]))).toBe(2)
    expect([recorded.has('2024/05/cam5.jpg'), recorded.has('2024/05/cam6.jpg')]).toEqual([true, true])
    expect(recorded.forgetAbsent(listing([sha(2), sha(3), sha(5), 'bafkreisix']))).toBe(2) // cam5's and cam6's hashes
    expect([recorded.has('2024/05/cam5.jpg'), recorded.has('2024/05/cam6.jpg')]).toEqual([false, false])
    expect([recorded.has(sha(1)), recorded.has(sha(2)), recorded.has('2024/05/cam3.jpg')]).toEqual([false, true, true])
    expect(recorded.has('2024/05/cam4.jpg')).toBe(false)
    expect(recorded.size).toBe(2)
    // a forgotten record stays forgotten (and is not counted again) until it is set again
    expect(recorded.forgetAbsent(listing([]))).toBe(2)
    expect(recorded.size).toBe(0)
    recorded.set(sha(1), sha(1))
    expect([recorded.has(sha(1)), recorded.size]).toEqual([true, 1])
  })

  it('an empty set knows nothing', () => {
    const recorded = new RecordedItems()
    expect([recorded.size, recorded.has(sha(1)), recorded.has('a.jpg'), recorded.forgetAbsent(listing([]))]).toEqual([
      0,
      false,
      false,
      0
    ])
  })
})
