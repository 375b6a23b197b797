// Replicated verify past the report's listed findings (MAX_LISTED_FINDINGS): every damaged primary copy counts, so a
// frame damaged on the primary and held by no replica is `lost` however many there are. Two real filesystem stores;
// the damaged primary files are written straight into the layout (storing 10,050 frames one by one is slow).
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MAX_LISTED_FINDINGS } from '../../../src/core/verify-report.js'
import { pair } from './helpers.js'

describe('verify over the copies, more damage than the report lists', () => {
  it('counts every damaged last copy as lost, and onFinding sees each finding once', async () => {
    const { storage, primary } = await pair()
    const damaged = MAX_LISTED_FINDINGS + 50
    for (let i = 0; i < damaged; i++) {
      const bytes = Buffer.from(`frame ${i} `.repeat(20))
      const hash = createHash('sha256').update(bytes).digest('hex')
      bytes[0] ^= 0x01 // the name's bytes, one bit flipped: corrupt
      const dir = join(primary.root, hash.slice(0, 2), hash.slice(2, 4))
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, `${hash}.jpg`), bytes)
    }
    const seen = new Map<string, number>()
    const report = await storage.verify({
      onFinding: f => seen.set(`${f.reason} ${f.key}`, (seen.get(`${f.reason} ${f.key}`) ?? 0) + 1)
    })
    expect(report.clean).toBe(false)
    expect(report.copies).toEqual({ belowWanted: damaged, lost: damaged })
    expect(report.counts).toMatchObject({ corrupt: damaged, lost: damaged })
    expect(report.problems.length).toBe(MAX_LISTED_FINDINGS)
    const reasons = [...seen.keys()].map(k => k.split(' ')[0])
    expect(reasons.filter(r => r === 'corrupt').length).toBe(damaged)
    expect(reasons.filter(r => r === 'lost').length).toBe(damaged)
    expect(Math.max(...seen.values())).toBe(1)
    await storage.close()
  }, 120_000)
})
