// Retention on the IPFS driver: prune by age, and deleteIfNotRenewed racing the stores that renew.
import { describe, expect, it } from 'vitest'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { prune } from '../../../src/features/retention/prune.js'
import type { StorageResult } from '../../../src/core/types.js'
import { testJpeg } from '../../../src/testing/index.js'
import { MiB, proxy, useKubo } from './helpers.js'

const node = useKubo()

describe('prune on the IPFS driver (Kubo)', () => {
  it('unpins by age and removes the index entries; protected ones stay; a store since the scan keeps its object', async () => {
    const storage = new IpfsDriver({ url: node.url })
    const images = [0, 1, 2].map(i => testJpeg(`ipfs prune ${i} ${Date.now()}`, i === 2 ? MiB + 7 : 5000))
    const stored: StorageResult[] = []
    for (const image of images) stored.push(await storage.store(image))
    const ours = new Set(stored.map(s => s.sha256))
    const stat = await storage.stat(stored[0]!.sha256)
    expect(stat.lastStoredAt).toEqual(stored[0]!.storedAt)
    // everything else on the node is protected; "now" is 10 days ahead
    const report = await prune(storage, {
      olderThan: 5 * 24 * 3600 * 1000,
      now: new Date(Date.now() + 10 * 24 * 3600 * 1000),
      minAgeMs: 0,
      keep: o => !ours.has(o.sha256!) || o.sha256 === stored[1]!.sha256
    })
    expect(report).toMatchObject({ deleted: 2, bytesFreed: images[0]!.length + images[2]!.length })
    expect(await Promise.all(stored.map(async s => await storage.exists(s.sha256)))).toEqual([false, true, false])
    // unpinned
    expect(await Promise.all(stored.map(async s => await storage.exists(s.hash)))).toEqual([false, true, false])
    expect((await storage.store(images[2]!)).isDuplicate).toBe(false)

    const seen = (await storage.stat(stored[1]!.sha256)).lastStoredAt!
    await new Promise(resolve => setTimeout(resolve, 5))
    expect((await storage.store(images[1]!)).isDuplicate).toBe(true) // renews it
    expect(await storage.deleteIfNotRenewed(stored[1]!.sha256, seen)).toBe(false)
    expect(await storage.exists(stored[1]!.hash)).toBe(true)
    expect(
      await storage.deleteIfNotRenewed(stored[1]!.sha256, (await storage.stat(stored[1]!.sha256)).lastStoredAt!)
    ).toBe(true)
    expect(await storage.exists(stored[1]!.hash)).toBe(false)
  })

  describe('deleteIfNotRenewed and a store of the same bytes, each interleaving made to happen (proxies hold their requests)', () => {
    const gate = (): { opened: Promise<void>; open: () => void } => {
      let open = (): void => {}
      const opened = new Promise<void>(resolve => {
        open = resolve
      })
      return { opened, open }
    }
    /**
     * The store's first files/cp is its time marker: held until `before`, and `marked` opened once the node answered
     * it.
     */
    const storeThrough = async (
      before: Promise<void>,
      marked = gate()
    ): Promise<{ storage: IpfsDriver; close: () => Promise<void> }> => {
      let markers = 0
      const server = await proxy(node.url, {
        before: path => (path === '/api/v0/files/cp' && markers++ === 0 ? before : undefined),
        after: path => {
          if (path === '/api/v0/files/cp' && markers === 1) marked.open()
          return undefined
        }
      })
      return { storage: new IpfsDriver({ url: server.url }), close: server.close }
    }
    const outcome = async (
      image: Buffer,
      pruned: Promise<boolean>,
      stored: Promise<StorageResult>
    ): Promise<{ deleted: boolean; isDuplicate: boolean }> => {
      const [deleted, again] = await Promise.all([pruned, stored])
      const storage = new IpfsDriver({ url: node.url })
      // whatever the order, the store stands: pinned, indexed, its time the latest
      expect(await storage.exists(again.sha256)).toBe(true)
      expect(Buffer.compare(await storage.fetch(again.sha256), image)).toBe(0)
      expect((await storage.stat(again.sha256)).lastStoredAt).toEqual(again.storedAt)
      return { deleted, isDuplicate: again.isDuplicate }
    }

    it('the store after the whole prune: deleted, then stored anew', async () => {
      const image = testJpeg(`after prune ${Date.now()}`, MiB + 11)
      const first = await new IpfsDriver({ url: node.url }).store(image)
      const done = gate()
      const store = await storeThrough(done.opened)
      const pruned = new IpfsDriver({ url: node.url })
        .deleteIfNotRenewed(first.sha256, first.storedAt)
        .finally(done.open)
      expect(await outcome(image, pruned, store.storage.store(image))).toEqual({ deleted: true, isDuplicate: false })
      await store.close()
    })

    it("the store's marker between the prune's unpin and its second look: the prune pins again and keeps it", async () => {
      const image = testJpeg(`between unpin ${Date.now()}`, MiB + 12)
      const first = await new IpfsDriver({ url: node.url }).store(image)
      const [unpinned, marked] = [gate(), gate()]
      const store = await storeThrough(unpinned.opened, marked)
      const pruning = await proxy(node.url, {
        after: path => {
          if (path !== '/api/v0/pin/rm') return undefined
          unpinned.open()
          return marked.opened
        }
      })
      const pruned = new IpfsDriver({ url: pruning.url }).deleteIfNotRenewed(first.sha256, first.storedAt)
      expect(await outcome(image, pruned, store.storage.store(image))).toEqual({ deleted: false, isDuplicate: true })
      await Promise.all([store.close(), pruning.close()])
    })

    it("the store's marker between the prune's removal and its last look: the prune puts the pin and the entry back", async () => {
      const image = testJpeg(`between removal ${Date.now()}`, MiB + 13)
      const first = await new IpfsDriver({ url: node.url }).store(image)
      const [removed, marked] = [gate(), gate()]
      const store = await storeThrough(removed.opened, marked)
      const pruning = await proxy(node.url, {
        after: path => {
          if (path !== '/api/v0/files/rm') return undefined
          removed.open()
          return marked.opened
        }
      })
      const pruned = new IpfsDriver({ url: pruning.url }).deleteIfNotRenewed(first.sha256, first.storedAt)
      expect((await outcome(image, pruned, store.storage.store(image))).deleted).toBe(false)
      await Promise.all([store.close(), pruning.close()])
    })
  })

  describe('a prune that fails or is stopped after its unpin, a store having renewed the object meanwhile', () => {
    /** A proxy for the prune whose first unpin waits for a store of `image` (the renewal) to resolve. */
    const renewedAtUnpin = async (
      image: Buffer,
      hooks: Parameters<typeof proxy>[1]
    ): Promise<{ url: string; renewal: () => Promise<StorageResult>; close: () => Promise<void> }> => {
      let renewal: Promise<StorageResult> | undefined
      const server = await proxy(node.url, {
        ...hooks,
        before: path => {
          if (path !== '/api/v0/pin/rm') return undefined
          renewal ??= new IpfsDriver({ url: node.url }).store(image) // once (a CID is unpinned by each spelling)
          return renewal
        }
      })
      return { url: server.url, renewal: async () => await renewal!, close: server.close }
    }
    /** The renewal acknowledged, and its object stored: pinned again, its bytes, its time. */
    const stands = async (image: Buffer, again: StorageResult): Promise<void> => {
      const storage = new IpfsDriver({ url: node.url })
      expect(await storage.exists(again.hash)).toBe(true) // pinned again
      expect(Buffer.compare(await storage.fetch(again.sha256), image)).toBe(0)
      expect((await storage.stat(again.sha256)).lastStoredAt).toEqual(again.storedAt)
    }

    it('stopped by its caller right after the unpin: the object is put back', async () => {
      const image = testJpeg(`stopped after unpin ${Date.now()}`, 20_000)
      const first = await new IpfsDriver({ url: node.url }).store(image)
      const stop = new AbortController()
      const pruning = await renewedAtUnpin(image, {
        after: path => {
          if (path === '/api/v0/pin/rm') stop.abort(new Error('the prune was stopped'))
          return undefined
        }
      })
      const pruned = new IpfsDriver({ url: pruning.url }).deleteIfNotRenewed(first.sha256, first.storedAt, {
        signal: stop.signal
      })
      await expect(pruned).rejects.toThrow('the prune was stopped')
      expect((await pruning.renewal()).isDuplicate).toBe(true) // acknowledged: it must stand
      await stands(image, await pruning.renewal())
      await pruning.close()
    })

    it('its next look answered by something that is not Kubo: the object is put back', async () => {
      const image = testJpeg(`failed after unpin ${Date.now()}`, MiB + 21)
      const first = await new IpfsDriver({ url: node.url }).store(image)
      let unpinned = false
      const pruning = await renewedAtUnpin(image, {
        after: path => {
          if (path === '/api/v0/pin/rm') unpinned = true
          return undefined
        },
        rewrite: (path, body) => {
          if (!unpinned || path !== '/api/v0/files/ls') return body
          unpinned = false
          return Buffer.from('<html>bad gateway</html>')
        }
      })
      const pruned = new IpfsDriver({ url: pruning.url }).deleteIfNotRenewed(first.sha256, first.storedAt)
      await expect(pruned).rejects.toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
      await stands(image, await pruning.renewal())
      await pruning.close()
    })
  })

  it('deleteIfNotRenewed racing a store of the same bytes, 30 rounds: the store always stands (pinned and indexed)', async () => {
    const pruner = new IpfsDriver({ url: node.url })
    const storer = new IpfsDriver({ url: node.url })
    const outcomes = { deleted: 0, kept: 0 }
    for (let round = 0; round < 30; round++) {
      const image = testJpeg(`renew race ${round} ${Date.now()}`, round % 2 === 0 ? MiB + round : 20_000 + round)
      const first = await storer.store(image)
      const pause = async (): Promise<void> => await new Promise(resolve => setTimeout(resolve, Math.random() * 12))
      const [deleted, again] = await Promise.all([
        pause().then(async () => await pruner.deleteIfNotRenewed(first.sha256, first.storedAt)),
        pause().then(async () => await storer.store(image))
      ])
      outcomes[deleted ? 'deleted' : 'kept']++
      expect({ round, exists: await pruner.exists(first.sha256) }).toEqual({ round, exists: true })
      expect(Buffer.compare(await pruner.fetch(first.sha256), image)).toBe(0)
      expect((await pruner.stat(first.sha256)).lastStoredAt!.getTime()).toBeGreaterThanOrEqual(again.storedAt.getTime())
    }
    expect(outcomes.deleted + outcomes.kept).toBe(30)
  }, 120_000)
})
