// A store into shard folders another writer made moments ago (the Python service never fsyncs): their names are made
// durable up to the root before the store resolves (write.ts, `StoreDirs.settle`; the crash workload foreign-dirs
// checks it under power cuts). What that costs, in thread-pool round trips: a parent fsync per young folder the first
// time, nothing for a folder born before a parent fsync of ours began (a warm store pays once per `ab`).
import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { roundTrips } from '../../infra/helpers/round-trips.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** Frames: `a`; `b` in another folder of a's `ab`; `c` under another `ab`; `d` under a third (for the baseline). */
function frames(): Record<'a' | 'b' | 'c' | 'd', Buffer> {
  const a = testJpeg('foreign a', 5000)
  const found: Buffer[] = []
  for (let i = 0; found.length < 3; i++) {
    const bytes = testJpeg(`foreign ${i}`, 5000)
    const [x, y] = [sha(a), sha(bytes)]
    const fits = [
      y.slice(0, 2) === x.slice(0, 2) && y.slice(2, 4) !== x.slice(2, 4),
      y.slice(0, 2) !== x.slice(0, 2),
      found.length === 2 && y.slice(0, 2) !== x.slice(0, 2) && y.slice(0, 2) !== sha(found[1]!).slice(0, 2)
    ]
    if (fits[found.length]) found.push(bytes)
  }
  return { a, b: found[0]!, c: found[1]!, d: found[2]! }
}

describe("FilesystemDriver: a store in another writer's young folders", () => {
  it('fsyncs the young folders above it once: a first store under an ab two more, the next under it none', async () => {
    const root = await tempDir('sai-foreign-dirs')
    const storage = new FilesystemDriver({ root })
    const plain = new FilesystemDriver({ root: await tempDir('sai-foreign-plain'), fsync: false })
    await Promise.all([storage.store(testJpeg('foreign first')), plain.store(testJpeg('foreign first'))])
    const { a, b, c, d } = frames()
    for (const bytes of [a, b, c])
      mkdirSync(dirname(join(root, storage.sharding.encode(sha(bytes)))), { recursive: true })
    mkdirSync(dirname(join(plain.root, plain.sharding.encode(sha(d)))), { recursive: true })
    await sleep(30) // more than the clock tick the rule allows for
    // without fsync: the same store, in a folder that is there (the path's own round trips, no fsync)
    // (+3: without fsync the close, the link and the temp's unlink run on the event loop, with fsync in the pool)
    const base = (await roundTrips(async () => await plain.store(d))) + 3
    // a, the first: its folder's name in ab, and ab's in the root (ab was made after our last root fsync)
    expect(await roundTrips(async () => await storage.store(a))).toBe(base + 1 + 2)
    // b, under the same ab, its folder born before a's fsync of ab began: nothing more
    expect(await roundTrips(async () => await storage.store(b))).toBe(base + 1)
    // c, under another ab born before a's fsync of the root began: its own folder's name only
    expect(await roundTrips(async () => await storage.store(c))).toBe(base + 1 + 1)
    for (const bytes of [a, b, c]) expect(sha(await storage.fetch(sha(bytes)))).toBe(sha(bytes))
    await Promise.all([storage.close(), plain.close()])
  })
})
