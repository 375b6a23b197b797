/** The listing: every object once, in SHA-256 order, with what the walk knows, and a cursor through it. */
import type { Suite } from './index.js'

export function listCases({ test, expect, testJpeg }: Suite): void {
  test('lists every object once', async storage => {
    const stored = new Set<string>()
    for (let i = 0; i < 25; i++) stored.add((await storage.store(testJpeg(`list ${i}`))).hash)
    const listed: string[] = []
    for await (const entry of storage.list()) {
      expect(entry.path).toBe(storage.pathOf(entry.hash))
      if (entry.url !== undefined) expect(entry.path).toBe(entry.url)
      if (stored.has(entry.hash)) listed.push(entry.hash)
    }
    expect(listed.sort()).toEqual([...stored].sort())
  })

  test('lists in ascending SHA-256 order, each entry with its size where the listing tells it', async storage => {
    const sizes = new Map<string, number>()
    for (let i = 0; i < 12; i++) {
      const jpeg = testJpeg(`order ${i}`, 1000 + i * 37)
      sizes.set((await storage.store(jpeg)).sha256, jpeg.length)
    }
    const seen: string[] = []
    let previous = ''
    for await (const entry of storage.list()) {
      if (entry.sha256 === undefined) continue // a driver may list objects it knows no SHA-256 of last
      expect(entry.sha256 > previous).toBe(true)
      previous = entry.sha256
      if (!sizes.has(entry.sha256)) continue
      seen.push(entry.sha256)
      if (entry.size !== undefined) expect(entry.size).toBe(sizes.get(entry.sha256))
      if (entry.lastStoredAt !== undefined)
        expect(Math.abs(entry.lastStoredAt.getTime() - Date.now())).toBeLessThan(10 * 60_000)
    }
    expect(seen).toEqual([...sizes.keys()].sort())
  })

  test(
    'a cursor: list({ after }) resumes after a SHA-256, list({ prefix }) gives those that ' + 'start with it',
    async storage => {
      const stored: string[] = []
      for (let i = 0; i < 20; i++) stored.push((await storage.store(testJpeg(`cursor ${i}`))).sha256)
      stored.sort()
      const ours = (hashes: Array<string | undefined>): string[] =>
        hashes.filter((h): h is string => h !== undefined && stored.includes(h))
      const all: string[] = []
      for await (const entry of storage.list()) all.push(entry.sha256!)
      // pages of 3 through the listing, each resumed after the last hash of the one before
      const paged: string[] = []
      let after: string | undefined
      for (;;) {
        const page: string[] = []
        for await (const entry of storage.list({ after })) {
          if (entry.sha256 === undefined) break
          page.push(entry.sha256)
          if (page.length === 3) break
        }
        if (page.length === 0) break
        paged.push(...page)
        after = page[page.length - 1]
      }
      expect(ours(paged)).toEqual(stored)
      expect(paged).toEqual(all.filter(h => h !== undefined))
      for (const prefix of [stored[7]!.slice(0, 1), stored[7]!.slice(0, 3), stored[7]!]) {
        const listed: Array<string | undefined> = []
        for await (const entry of storage.list({ prefix })) listed.push(entry.sha256)
        expect(listed.every(h => h?.startsWith(prefix) === true)).toBe(true)
        expect(ours(listed)).toEqual(stored.filter(h => h.startsWith(prefix)))
      }
      const last: string[] = []
      for await (const entry of storage.list({ after: stored[stored.length - 1] })) last.push(entry.sha256!)
      expect(ours(last)).toEqual([])
    }
  )
}
