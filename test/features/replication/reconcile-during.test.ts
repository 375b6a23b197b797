// A frame stored and copied while a reconcile runs, after every listing went past its folder: only the ledger
// knows it in that pass. It is no loss (known.ts: `since`); the next pass finds it on both copies.
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import type { ImageEntry, ListOptions } from '../../../src/core/types.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { createHash } from 'node:crypto'
import { tempDir } from '../../infra/helpers/tmp.js'

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** Frames whose SHA-256 starts in `range` (of the first hex digit), made from `seed`. */
function framesIn(range: RegExp, count: number, seed: string): Buffer[] {
  const found: Buffer[] = []
  for (let i = 0; found.length < count; i++) {
    const bytes = testJpeg(`${seed} ${i}`, 5_000)
    if (range.test(sha256(bytes))) found.push(bytes)
  }
  return found
}

describe('a reconcile and a store that comes during it', () => {
  it('a frame stored and copied after both listings passed its folder is not counted lost', async () => {
    const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
    const replica = new FilesystemDriver({ root: await tempDir('sai-replica') })
    let collected = 0
    let storeDuring: (() => Promise<void>) | undefined
    // each listing read whole on its first pull; the second to be read stores (and copies) the late frame
    const listedFirst = (storage: FilesystemDriver) =>
      new Proxy(storage, {
        get(target, name) {
          if (name !== 'list') {
            const value = Reflect.get(target, name, target)
            return typeof value === 'function' ? value.bind(target) : value
          }
          return async function* (options?: ListOptions): AsyncGenerator<ImageEntry> {
            const entries: ImageEntry[] = []
            for await (const entry of target.list(options)) entries.push(entry)
            if (++collected === 2 && storeDuring !== undefined) await storeDuring()
            yield* entries
          }
        }
      })
    const storage = createReplicatedStorage({
      primary: listedFirst(primary),
      replicas: [{ name: 'copy', storage: listedFirst(replica) }],
      background: false
    })
    // the early frames sort before the late one: the ledger's shard of the late frame is read after its store
    for (const bytes of framesIn(/^[0-3]/, 3, 'early')) await storage.store(bytes)
    await storage.drain()
    const [late] = framesIn(/^[c-f]/, 1, 'late')
    const lateHash = sha256(late!)
    storeDuring = async () => {
      storeDuring = undefined
      await storage.store(late!)
      await storage.drain()
    }
    const report = await storage.reconcile()
    expect(storeDuring).toBeUndefined() // the store came during the pass
    expect(await replica.exists(lateHash)).toBe(true) // and was copied in it
    expect({ lost: report.lost, below: report.belowWantedCopies, primary: report.primary }).toEqual({
      lost: 0,
      below: 0,
      primary: 3
    })
    collected = 0
    const next = await storage.reconcile()
    expect({ lost: next.lost, below: next.belowWantedCopies, primary: next.primary }).toEqual({
      lost: 0,
      below: 0,
      primary: 4
    })
    await storage.close()
  })
})
