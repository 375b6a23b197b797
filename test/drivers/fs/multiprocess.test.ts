import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { strayTemps, tempDir } from '../../infra/helpers/tmp.js'

describe('FilesystemDriver across processes', () => {
  it('4 processes storing the same bytes at the same instant: exactly one writes', async () => {
    for (const size of [2_000, 600 * 1024, 5_000_000]) {
      const root = await tempDir()
      const startAt = Date.now() + 1500
      const children = Array.from({ length: 4 }, () =>
        startChild('race', { root, seed: `race ${size}`, size, count: 8, startAt })
      )
      expect(await Promise.all(children.map(c => c.done))).toEqual([0, 0, 0, 0])
      const results = children.flatMap(c => c.lines())
      expect(results).toHaveLength(32)
      expect(results.filter(r => r.isDuplicate === false)).toHaveLength(1)
      expect(new Set(results.map(r => r.path)).size).toBe(1)
      const storage = new FilesystemDriver({ root })
      const files = []
      for await (const entry of storage.list()) files.push(entry)
      expect(files).toHaveLength(1)
      expect(Buffer.compare(await storage.fetch(files[0]!.hash), testJpeg(`race ${size}`, size))).toBe(0)
      expect(await strayTemps(storage)).toEqual([])
    }
  })
})
