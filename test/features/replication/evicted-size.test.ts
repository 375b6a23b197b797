// The last copy of an evicted frame, truncated or emptied on its replica (by another tool, a lifecycle rule): the
// reconcile and a verify that does not read it back judge it by its listing alone, and the eviction mark keeps the
// evicted copy's size, so a copy of another size is no copy: the frame is LOST the day the listing shows it, not in
// the month a `verify --subset` takes to come round to it.
import { truncate, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../../src/testing/index.js'
import { pair } from './helpers.js'

describe("an evicted frame's last copy of another size", () => {
  it.each([
    ['truncated', async (path: string) => await truncate(path, 100)],
    ['emptied', async (path: string) => await writeFile(path, '')]
  ])('%s: the reconcile and a plain verify count it lost; status says so', async (_, damage) => {
    const { storage, primary, replica } = await pair()
    const { sha256 } = await storage.store(testJpeg(`evicted, then ${primary.root}`, 5000))
    await storage.drain()
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(await storage.evict({ olderThan: 0 })).toMatchObject({ evicted: 1 })
    expect(await storage.reconcile()).toMatchObject({ lost: 0 })
    await damage(replica.pathOf(sha256))
    expect(await storage.reconcile()).toMatchObject({ lost: 1 })
    expect(storage.status()).toMatchObject({ lost: 1 })
    const report = await storage.verify()
    expect(report.copies).toMatchObject({ lost: 1 })
    expect(storage.status()).toMatchObject({ lost: 1 }) // the later scan says so too
    await storage.close()
  })
})
