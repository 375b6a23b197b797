/**
 * The gate on large inputs' write calls (src/drivers/fs/write-calls.ts), seen on real pipes: a 1 MiB write into a
 * FIFO nobody reads fills the pipe (64 KiB) and then waits in its pool thread, so the readers' ends show which
 * calls the gate let start. 16 concurrent 5 MB stores, four copies at once on 2 cores, kept the event loop waiting
 * for a CPU (bench/RESULTS-full-run.md, session 12).
 */
import { execFileSync } from 'node:child_process'
import { closeSync, constants, openSync, readSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { gatedWriteAt } from '../../../src/drivers/fs/write-calls.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const SLOTS = Math.max(1, availableParallelism() - 1)
const POOL = 4 // libuv's default thread pool
const scratch = Buffer.alloc(64 * 1024)

/** `count` FIFOs, each with a reader end (nonblocking) and a writer end. */
async function pipes(count: number): Promise<{ readers: number[]; writers: number[] }> {
  const dir = await tempDir('write-calls')
  const paths = Array.from({ length: count }, (_, i) => join(dir, `fifo-${i}`))
  execFileSync('mkfifo', paths)
  const readers = paths.map(path => openSync(path, constants.O_RDONLY | constants.O_NONBLOCK))
  return { readers, writers: paths.map(path => openSync(path, 'w')) }
}

/** Whether a writer has put bytes in the pipe (read, and so drained a little). */
function written(reader: number): boolean {
  try {
    return readSync(reader, scratch) > 0
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false
    throw err
  }
}

/** Reads every pipe until `done` settles, then closes them. */
async function drain({ readers, writers }: { readers: number[]; writers: number[] }, done: Promise<unknown>) {
  let settled = false
  void done.finally(() => {
    settled = true
  })
  while (!settled) {
    for (const reader of readers) written(reader)
    await new Promise(resolve => setImmediate(resolve))
  }
  for (const fd of [...readers, ...writers]) closeSync(fd)
}

const pause = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

describe('the write calls of a large input', () => {
  it('start at most one fewer at once than the machine has cores (at least one), process-wide', async () => {
    const ends = await pipes(POOL)
    const bytes = Buffer.alloc(1024 * 1024)
    const writes = Promise.all(ends.writers.map(async fd => await gatedWriteAt(fd, bytes, 0, bytes.length, null)))
    await pause(300)
    const started = ends.readers.filter(written).length
    await drain(ends, writes)
    expect((await writes).every(({ bytesWritten }) => bytesWritten === bytes.length)).toBe(true)
    expect(started).toBe(Math.min(SLOTS, POOL))
  })

  // with every slot held by a waiting pipe write, and a pool thread left over for the small frame
  it.skipIf(SLOTS >= POOL)(
    'a store over 1 MiB waits for a slot; one of at most 1 MiB (one call) does not',
    async () => {
      const storage = new FilesystemDriver({ root: await tempDir('write-calls-store'), fsync: false })
      await storage.store(testJpeg('first')) // the root, .tmp and the layout record made
      const ends = await pipes(SLOTS)
      const held = Promise.all(
        ends.writers.map(async fd => await gatedWriteAt(fd, Buffer.alloc(1 << 20), 0, 1 << 20, null))
      )
      await pause(100)
      let largeDone = false
      const large = storage.store(testJpeg('large', 3_000_000)).finally(() => {
        largeDone = true
      })
      expect((await storage.store(testJpeg('small', 600_000))).isDuplicate).toBe(false)
      await pause(300)
      expect(largeDone).toBe(false)
      await drain(ends, held)
      expect((await large).size).toBe(3_000_000)
      await storage.close()
    }
  )
})
