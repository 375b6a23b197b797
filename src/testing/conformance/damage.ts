/**
 * One answer per question, on every driver: an object that is empty or truncated under its name
 * is present and damaged. `exists`, `stat` and `list` say it is there (with its size); `fetch` is
 * `ERR_INTEGRITY`; `verify` names it; a store of the right bytes replaces it.
 */
import type { Suite } from './index.js'

export function damageCases({ init, test, expect, testJpeg }: Suite): void {
  const damage = init.damage
  if (damage === undefined) return
  for (const [label, keep] of [
    ['empty', 0],
    ['truncated', 700]
  ] as const) {
    test(
      `an ${label} object is present and damaged: exists, stat and list see it; fetch and verify judge it; ` +
        'a store replaces it',
      async storage => {
        const jpeg = testJpeg(`damaged ${label}`, 3000)
        const { hash, sha256 } = await storage.store(jpeg)
        await damage(storage, hash, keep)
        expect(await storage.exists(hash)).toBe(true)
        expect(await storage.stat(hash)).toMatchObject({ hash, size: keep })
        await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
        const listed: Array<number | undefined> = []
        for await (const entry of storage.list({ prefix: sha256 })) listed.push(entry.size)
        expect(listed).toHaveLength(1)
        if (listed[0] !== undefined) expect(listed[0]).toBe(keep)
        if (storage.verify !== undefined) {
          const found: Array<{ key: string; reason: string; action?: string }> = []
          const report = await storage.verify({ onFinding: f => found.push(f) })
          expect(report.clean).toBe(false)
          expect(report.problems.find(p => p.key === storage.keyOf(hash))?.reason).toBe(label)
          // onFinding: each finding once, as found (before any repair)
          expect(found.filter(f => f.key === storage.keyOf(hash))).toEqual([expect.objectContaining({ reason: label })])
          expect(found.length).toBe(Object.values(report.counts).reduce((a, b) => a + b, 0))
        }
        const again = await storage.store(jpeg)
        expect(again.isDuplicate).toBe(false)
        expect(Buffer.compare(await storage.fetch(hash), jpeg)).toBe(0)
      }
    )
  }
}
