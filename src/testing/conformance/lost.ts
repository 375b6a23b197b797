/**
 * Reports and repairs an operator can trust, on every driver: a damaged last copy is
 * `ERR_INTEGRITY` on every read (never "not found", never bytes) and no repair calls it restored;
 * a store opened with the wrong layout setting is never emptied by a repair.
 */
import type { ImageStorage } from '../../core/types.js'
import type { Suite } from './index.js'

async function readAll(storage: ImageStorage, hash: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of await storage.fetchStream(hash)) chunks.push(Buffer.from(chunk as Uint8Array))
  return Buffer.concat(chunks)
}

export function lostCases({ init, test, expect, testJpeg, countObjects }: Suite): void {
  const { damage, withLayout } = init
  if (damage !== undefined) {
    test(
      'a damaged last copy is ERR_INTEGRITY on fetch and fetchStream, and a repair never ' + 'calls it restored',
      async storage => {
        const jpeg = testJpeg('lost last copy', 3000)
        const { hash } = await storage.store(jpeg)
        await damage(storage, hash, 700)
        await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
        await expect(readAll(storage, hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
        if (storage.verify === undefined) return
        const report = await storage.verify({ repair: true })
        expect(report.clean).toBe(false)
        expect(report.problems.filter(p => p.key.includes(hash) && p.action === 'restored')).toEqual([])
        // afterwards: quarantined (not found, saying where) or still damaged; never bytes
        await expect(storage.fetch(hash)).rejects.toMatchObject({
          code: expect.stringMatching(/^ERR_(NOT_FOUND|INTEGRITY)$/)
        })
      }
    )
  }
  if (withLayout !== undefined) {
    test(
      'a repair through a wrong layout setting empties nothing: a storm (or ERR_CONFIG), ' + 'every frame still there',
      async storage => {
        const hashes: string[] = []
        for (let i = 0; i < 12; i++) hashes.push((await storage.store(testJpeg(`wrong layout ${i}`, 2000))).hash)
        const before = await countObjects(storage)
        const wrong = await withLayout(storage, { depth: 3, width: 1 })
        try {
          const report = await wrong.verify?.({ repair: true })
          if (report !== undefined) {
            expect({ quarantined: report.quarantined, restored: report.restored }).toEqual({
              quarantined: 0,
              restored: 0
            })
            if (report.problems.length > 0)
              expect(report.storm).toMatchObject({ refused: true, cause: expect.stringContaining('layout') })
          }
        } catch (err) {
          expect(err).toMatchObject({ code: 'ERR_CONFIG' }) // the store knows its layout and refuses the setting
        } finally {
          if (wrong !== storage) await wrong.close()
        }
        expect(await countObjects(storage)).toBe(before)
        for (const hash of hashes) expect(await storage.exists(hash)).toBe(true)
      }
    )
  }
}
