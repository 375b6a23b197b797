// Listings side by side (merge.ts): walked once, in step, each hash with each listing's entry.
import { describe, expect, it } from 'vitest'
import type { ImageEntry } from '../../../src/core/types.js'
import { mergeListings } from '../../../src/features/replication/merge.js'

const h = (c: string): string => c.repeat(64)
const entry = (sha256: string | undefined, size = 1): ImageEntry => ({
  hash: sha256 ?? 'Qm',
  sha256,
  key: 'k',
  path: '',
  size
})

async function* listing(entries: ImageEntry[], seen: { returned: boolean }): AsyncGenerator<ImageEntry> {
  try {
    for (const e of entries) yield e
  } finally {
    seen.returned = true
  }
}

describe('mergeListings', () => {
  it('each hash once, in order, with the entry of each listing that has it', async () => {
    const a = { returned: false }
    const b = { returned: false }
    const merged = []
    for await (const { sha256, entries } of mergeListings([
      listing([entry(h('1')), entry(h('3'), 3)], a),
      listing([entry(h('2')), entry(h('3'), 4), entry(h('4'))], b)
    ]))
      merged.push([sha256, entries.map(e => e?.size)])
    expect(merged).toEqual([
      [h('1'), [1, undefined]],
      [h('2'), [undefined, 1]],
      [h('3'), [3, 4]],
      [h('4'), [undefined, 1]]
    ])
    expect([a.returned, b.returned]).toEqual([true, true])
  })

  it(
    'passes over entries without a SHA-256 (IPFS objects stored ' + 'before its index); a stop ends every listing',
    async () => {
      const a = { returned: false }
      const b = { returned: false }
      const merged = []
      for await (const { sha256 } of mergeListings([
        listing([entry(undefined), entry(h('1')), entry(h('5'))], a),
        listing([entry(h('2')), entry(undefined), entry(h('6'))], b)
      ])) {
        merged.push(sha256)
        if (sha256 === h('2')) break
      }
      expect(merged).toEqual([h('1'), h('2')])
      expect([a.returned, b.returned]).toEqual([true, true])
    }
  )
})
