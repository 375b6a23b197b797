// A fetch that runs alone and reads through the pool (an older frame, or one over 1 MiB) reads a hash slice per round
// trip and hashes each while the next is read (src/drivers/fs/read.ts, session 10). Its bytes are returned only once
// the whole SHA-256 matches, as before.
import { createHash } from 'node:crypto'
import { readdirSync, truncateSync, type Stats } from 'node:fs'
import { readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { IntegrityError } from '../../../src/core/errors.js'
import { HashSlices } from '../../../src/core/hashing.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { ObjectReader, ThreadPoolReads } from '../../../src/drivers/fs/read.js'
import { testJpeg } from '../../../src/testing/index.js'
import { roundTrips } from '../../infra/helpers/round-trips.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const HOUR_AGO = new Date(Date.now() - 3600_000)
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
const openFds = (): number => readdirSync('/proc/self/fd').length

describe('FilesystemDriver: a fetch alone hashes a slice while the pool reads the next, verified whole all the same', () => {
  it.each([
    ['2 MB, just written', 2_000_000, false],
    ['2 MB, an hour old', 2_000_000, true],
    ['600 KB, an hour old', 600_000, true]
  ])('a flipped byte in the last slice (%s): ERR_INTEGRITY, read slice by slice', async (_name, size, old) => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frame = testJpeg(`pipelined flip ${size}`, size)
    const { hash, path } = await storage.store(frame)
    const bytes = await readFile(path)
    bytes[size - 10] = bytes[size - 10]! ^ 0xff
    await writeFile(path, bytes)
    if (old) await utimes(path, HOUR_AGO, HOUR_AGO)
    let error: unknown
    const trips = await roundTrips(async () => {
      error = await storage.fetch(hash).catch(err => err)
    })
    expect(error).toBeInstanceOf(IntegrityError)
    expect(error).toMatchObject({ code: 'ERR_INTEGRITY', expected: hash, actual: sha256(bytes), path })
    expect(trips).toBe(Math.ceil(size / (256 * 1024))) // one read per slice: this path, not the whole read
    await storage.close()
  })

  it('beside another fetch, a fetch reads its file whole (16 at once measured slower slice by slice)', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frames = [testJpeg('beside 1', 2_000_000), testJpeg('beside 2', 2_000_000)]
    const hashes: string[] = []
    for (const frame of frames) hashes.push((await storage.store(frame)).hash)
    let fetched: Buffer[] = []
    const trips = await roundTrips(async () => {
      fetched = await Promise.all(hashes.map(async hash => await storage.fetch(hash)))
    })
    expect(trips).toBe(8 + 1) // the first starts alone: 8 slices; the second starts beside it: one read
    expect(fetched.map((bytes, i) => Buffer.compare(bytes, frames[i]!))).toEqual([0, 0])
    await storage.close()
  })

  it('a file cut short while it is read: ERR_INTEGRITY for the bytes it held, no read left on a closed fd', async () => {
    const path = join(await tempDir(), 'frame.jpg')
    const frame = testJpeg('cut short', 2_000_000)
    await writeFile(path, frame)
    // another process truncates the file once its first slice is read (fstat said 2 MB)
    class CutAfterFirstSlice extends ThreadPoolReads {
      override async read(fd: number, stats: Stats, length: number, buffer?: Buffer): Promise<Buffer> {
        const read = await super.read(fd, stats, length, buffer)
        truncateSync(path, 300_000)
        return read
      }
    }
    const reader = new ObjectReader(new CutAfterFirstSlice(() => true), new HashSlices())
    const before = openFds()
    const error = await reader.fetch(path, sha256(frame)).catch(err => err)
    // the hash of the 300,000 bytes left: nothing unread (allocUnsafe's garbage) was hashed or handed out
    expect(error).toMatchObject({
      code: 'ERR_INTEGRITY',
      expected: sha256(frame),
      actual: sha256(frame.subarray(0, 300_000))
    })
    expect(openFds()).toBe(before)
  })

  it('with onUnverified (a render overlapping the check), the bytes are read whole first, then hashed', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const frame = testJpeg('unverified whole', 600_000)
    const { hash, path } = await storage.store(frame)
    await utimes(path, HOUR_AGO, HOUR_AGO)
    const handed: Buffer[] = []
    let fetched: Buffer | undefined
    const trips = await roundTrips(async () => {
      fetched = await storage.fetch(hash, { onUnverified: bytes => handed.push(bytes) })
    })
    expect(trips).toBe(1)
    expect(handed).toHaveLength(1)
    expect(handed[0]).toBe(fetched)
    expect(Buffer.compare(fetched!, frame)).toBe(0)
    await storage.close()
  })
})
