/**
 * Marks, where a driver keeps them (`storage.marks`: a replica's owner, core/marks.ts): a create wins once, a swap
 * only from the text it replaces, of several writers at one moment exactly one wins, and no mark is ever listed as
 * an object. A driver without marks is not asked (replication then leaves its replicas unchecked).
 */
import { randomUUID } from 'node:crypto'
import type { Suite } from './index.js'

export function marksCases({ test, expect, countObjects }: Suite): void {
  test('marks: a create wins once, a swap needs the text it replaces, no mark is listed', async storage => {
    const { marks } = storage
    if (marks === undefined) return
    const name = `conformance-${randomUUID()}.json`
    const objects = await countObjects(storage)
    expect(await marks.read(name)).toBeUndefined()
    expect(await marks.swap(name, 'nothing', 'b')).toBe(false)
    expect(await marks.create(name, 'a')).toBe(true)
    expect(await marks.create(name, 'b')).toBe(false)
    expect(await marks.read(name)).toBe('a')
    expect(await marks.swap(name, 'b', 'c')).toBe(false)
    expect(await marks.swap(name, 'a', 'c')).toBe(true)
    expect(await marks.swap(name, 'a', 'd')).toBe(false) // stale: another swap won
    expect(await marks.read(name)).toBe('c')
    expect(await countObjects(storage)).toBe(objects)
  })

  test('marks: of four writers at one moment, one create and one swap win', async storage => {
    const { marks } = storage
    if (marks === undefined) return
    const name = `conformance-${randomUUID()}.json`
    const writers = ['w0', 'w1', 'w2', 'w3']
    const created = await Promise.all(writers.map(async w => await marks.create(name, w)))
    expect(created.filter(Boolean)).toHaveLength(1)
    const first = writers[created.indexOf(true)]!
    expect(await marks.read(name)).toBe(first)
    const swapped = await Promise.all(writers.map(async w => await marks.swap(name, first, `${w} took over`)))
    expect(swapped.filter(Boolean)).toHaveLength(1)
    expect(await marks.read(name)).toBe(`${writers[swapped.indexOf(true)]} took over`)
  })
}
