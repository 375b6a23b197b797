import { createHook } from 'node:async_hooks'
import { constants, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { utimes } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver, type FilesystemDriverInit } from '../../../src/drivers/fs/index.js'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { testJpeg } from '../../../src/testing/index.js'
import { roundTrips } from '../../infra/helpers/round-trips.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const HOUR_AGO = new Date(Date.now() - 3600_000)

/** The open flags of every temp file open when `work` starts an asynchronous fs call, as the kernel holds them. */
async function tempFlags(work: () => Promise<unknown>): Promise<number[]> {
  const flags: number[] = []
  const hook = createHook({
    init(_id, type) {
      if (type !== 'FSREQCALLBACK') return
      for (const fd of readdirSync('/proc/self/fd')) {
        let target = ''
        try {
          target = readlinkSync(`/proc/self/fd/${fd}`)
        } catch {
          continue
        }
        if (target.endsWith('.tmp'))
          flags.push(parseInt(/^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8))
      }
    }
  })
  hook.enable()
  try {
    await work()
  } finally {
    hook.disable()
  }
  return flags
}

describe('FilesystemDriver: a durable store of a frame of at most 1 MiB syncs it with its write', () => {
  // no shard directories (depth 0): every store goes to the same, existing directory
  const driver = async (init: FilesystemDriverInit): Promise<FilesystemDriver> => {
    const storage = new FilesystemDriver({ root: await tempDir(), sharding: new PrefixSharding({ depth: 0 }), ...init })
    await storage.store(testJpeg(`first ${JSON.stringify(init)}`)) // the root and its .tmp exist
    return storage
  }

  it('opened with O_DSYNC, it waits for one fsync round trip (the directory), not two', async () => {
    const durable = await driver({})
    const plain = await driver({ fsync: false })
    const frame = testJpeg('dsync', 600_000)
    const flags = await tempFlags(async () => await durable.store(frame))
    expect(flags.length).toBeGreaterThan(0)
    expect(flags.every(f => (f & constants.O_DSYNC) === constants.O_DSYNC)).toBe(true)
    // open, write, close, link, the temp's unlink and the folder's fsync: no fsync of the file. (A store without
    // fsync makes the first five; since 2026-12-05 it links and unlinks on the event loop: three; since session 8
    // it closes there too: two, the open and the write.)
    expect(await roundTrips(async () => await durable.store(testJpeg('dsync 2', 600_000)))).toBe(6)
    expect(await roundTrips(async () => await plain.store(testJpeg('dsync 3', 600_000)))).toBe(2)
    expect(Buffer.compare(await durable.fetch((await durable.store(frame)).hash), frame)).toBe(0)
    await Promise.all([durable.close(), plain.close()])
  })

  it('a larger frame (written in pieces), an exact file mode (a chmod after the write) and no fsync: no O_DSYNC', async () => {
    for (const [init, size] of [
      [{}, 2_000_000],
      [{ fileMode: 0o640 }, 600_000],
      [{ fsync: false }, 600_000]
    ] as const) {
      const storage = await driver(init)
      const flags = await tempFlags(async () => await storage.store(testJpeg(`no dsync ${size}`, size)))
      expect(flags.length).toBeGreaterThan(0)
      expect(flags.some(f => (f & constants.O_DSYNC) === constants.O_DSYNC)).toBe(false)
      await storage.close()
    }
  })
})

describe('FilesystemDriver: what a duplicate and a fetch cost in thread-pool round trips', () => {
  // a duplicate's renewal (its new mtime) is fsynced before the store resolves: one round trip, the
  // fsync (a power cut must not make the frame old again: docs/durability.md)
  // a duplicate of a frame made in the last minute also fsyncs its folder (beside the file's fsync): its name may be
  // another writer's, not yet durable, and this store is acknowledged too
  // an older one (or one over 1 MiB), fetched alone, is read a hash slice (256 KiB) per round trip: the pool copies
  // the next slice while the loop hashes the one before (session 10: 1.1-1.2x at 600 KB to 5 MB)
  it('a frame stored in the last minute is compared and renewed with the fsyncs alone, fetched with none; an older one with reads', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frame = testJpeg('round trips', 600_000)
    const { hash, path } = await storage.store(frame)

    expect(
      await roundTrips(async () => {
        expect((await storage.store(frame)).isDuplicate).toBe(true)
      })
    ).toBe(2)
    expect(
      await roundTrips(async () => {
        expect(Buffer.compare(await storage.fetch(hash), frame)).toBe(0)
      })
    ).toBe(0)

    // may have left the page cache: a read must not wait for the disk on the event loop
    await utimes(path, HOUR_AGO, HOUR_AGO)
    expect(
      await roundTrips(async () => {
        expect(Buffer.compare(await storage.fetch(hash), frame)).toBe(0)
      })
    ).toBe(3) // 600,000 bytes: 256 KiB, 256 KiB and the rest
    expect(
      await roundTrips(async () => {
        expect((await storage.store(frame)).isDuplicate).toBe(true)
      })
    ).toBe(3)
    // the duplicate renewed it: the last store is now, and its bytes were just read
    expect(
      await roundTrips(async () => {
        expect((await storage.store(frame)).isDuplicate).toBe(true)
      })
    ).toBe(2)
    expect((await storage.stat(hash)).lastStoredAt!.getTime()).toBeGreaterThan(Date.now() - 60_000)
    await storage.close()
  })

  it("beside another store or fetch, a read goes through the pool (its copy overlaps the other's hashing)", async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frames = [testJpeg('beside 1', 600_000), testJpeg('beside 2', 600_000)]
    const stored = await Promise.all(frames.map(async frame => await storage.store(frame)))
    const fetched: Buffer[] = []
    // the first fetch starts alone and reads at once; the second starts while the first runs
    expect(
      await roundTrips(async () =>
        fetched.push(...(await Promise.all(stored.map(async ({ hash }) => await storage.fetch(hash)))))
      )
    ).toBe(1)
    expect(fetched.map((bytes, i) => Buffer.compare(bytes, frames[i]!))).toEqual([0, 0])
    // a duplicate store beside a fetch of a 5 MB frame (through the pool: over 1 MiB; hashed in 20
    // slices, so that it runs all through the store): the store compares through the pool too. (Two
    // stores side by side are no test of it: the second to check may find the first one done, and
    // then rightly reads at once.)
    const { hash: big } = await storage.store(testJpeg('beside big', 5_000_000))
    expect(
      await roundTrips(
        async () =>
          await Promise.all([
            storage.fetch(big),
            (async () => {
              expect((await storage.store(frames[0]!)).isDuplicate).toBe(true)
            })()
          ])
      )
    ).toBe(23) // the fetch started alone: a read per slice (20); the store's read, its renewal's and folder's fsyncs
    expect(await roundTrips(async () => await storage.fetch(stored[0]!.hash))).toBe(0) // alone again
    await storage.close()
  })

  it('a frame over 1 MiB is read through the pool however recent (a copy that long would hold the event loop)', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frame = testJpeg('large round trips', 2_000_000)
    const { hash } = await storage.store(frame)
    expect(
      await roundTrips(async () => {
        expect((await storage.store(frame)).isDuplicate).toBe(true)
      })
    ).toBe(3) // the read, the renewal's fsync and the young name's folder fsync (side by side)
    expect(
      await roundTrips(async () => {
        expect(Buffer.compare(await storage.fetch(hash), frame)).toBe(0)
      })
    ).toBe(8) // alone: a slice (256 KiB) per read, hashed while the next one is read
    await storage.close()
  })

  it('a stat opens, reads the type and closes on the event loop: no round trip (a drain or an HTTP answer takes one each)', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frame = testJpeg('stat round trips', 200_000)
    const { hash } = await storage.store(frame)
    const stats = await roundTrips(async () => {
      const stat = await storage.stat(hash)
      expect([stat.size, stat.mimeType]).toEqual([frame.length, 'image/jpeg'])
    })
    expect(stats).toBe(0) // 2 until session 24 (the open and the read of its first bytes; the close besides)
    await storage.close()
  })
})
