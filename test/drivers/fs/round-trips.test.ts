import { createHook } from 'node:async_hooks'
import { utimes } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../helpers/tmp.js'

const HOUR_AGO = new Date(Date.now() - 3600_000)

/** How many asynchronous fs calls (each a round trip through libuv's thread pool) `work` makes. */
async function roundTrips (work: () => Promise<unknown>): Promise<number> {
  let count = 0
  const hook = createHook({ init (_id, type) { if (type === 'FSREQCALLBACK' || type === 'FSREQPROMISE') count++ } })
  hook.enable()
  try {
    await work()
  } finally {
    hook.disable()
  }
  return count
}

describe('FilesystemDriver: what a duplicate and a fetch cost in thread-pool round trips', () => {
  it('a frame stored in the last minute is compared, renewed and fetched with none; an older one with one read', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frame = testJpeg('round trips', 600_000)
    const { hash, path } = await storage.store(frame)

    expect(await roundTrips(async () => { expect((await storage.store(frame)).isDuplicate).toBe(true) })).toBe(0)
    expect(await roundTrips(async () => { expect(Buffer.compare(await storage.fetch(hash), frame)).toBe(0) })).toBe(0)

    await utimes(path, HOUR_AGO, HOUR_AGO) // may have left the page cache: a read must not wait for the disk on the event loop
    expect(await roundTrips(async () => { expect(Buffer.compare(await storage.fetch(hash), frame)).toBe(0) })).toBe(1)
    expect(await roundTrips(async () => { expect((await storage.store(frame)).isDuplicate).toBe(true) })).toBe(1)
    // the duplicate renewed it: the last store is now, and its bytes were just read
    expect(await roundTrips(async () => { expect((await storage.store(frame)).isDuplicate).toBe(true) })).toBe(0)
    expect((await storage.stat(hash)).lastStoredAt!.getTime()).toBeGreaterThan(Date.now() - 60_000)
    await storage.close()
  })

  it('beside another store or fetch, a read goes through the pool (its copy overlaps the other\'s hashing)', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frames = [testJpeg('beside 1', 600_000), testJpeg('beside 2', 600_000)]
    const stored = await Promise.all(frames.map(async frame => await storage.store(frame)))
    const fetched: Buffer[] = []
    // the first fetch starts alone and reads at once; the second starts while the first runs
    expect(await roundTrips(async () => fetched.push(...await Promise.all(stored.map(async ({ hash }) => await storage.fetch(hash)))))).toBe(1)
    expect(fetched.map((bytes, i) => Buffer.compare(bytes, frames[i]!))).toEqual([0, 0])
    // two stores hash side by side (a 600 KB frame in three slices): both compare through the pool
    expect(await roundTrips(async () => await Promise.all(frames.map(async frame => expect((await storage.store(frame)).isDuplicate).toBe(true))))).toBe(2)
    expect(await roundTrips(async () => await storage.fetch(stored[0]!.hash))).toBe(0) // alone again
    await storage.close()
  })

  it('a frame over 1 MiB is read through the pool however recent (a copy that long would hold the event loop)', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frame = testJpeg('large round trips', 2_000_000)
    const { hash } = await storage.store(frame)
    expect(await roundTrips(async () => { expect((await storage.store(frame)).isDuplicate).toBe(true) })).toBe(1)
    expect(await roundTrips(async () => { expect(Buffer.compare(await storage.fetch(hash), frame)).toBe(0) })).toBe(1)
    await storage.close()
  })
})
