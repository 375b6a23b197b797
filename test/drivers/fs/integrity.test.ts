import { readFile, stat, truncate, utimes, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { IntegrityError } from '../../../src/core/errors.js'
import { testJpeg } from '../../../src/testing/index.js'
import { strayTemps, tempDir } from '../../infra/helpers/tmp.js'

async function flipByte(path: string, at: number): Promise<void> {
  const bytes = await readFile(path)
  bytes[at] = bytes[at]! ^ 0xff
  await writeFile(path, bytes)
}

const HOUR_AGO = new Date(Date.now() - 3600_000)

/**
 * Damage just done (read back synchronously: see inPageCache), or damage found an hour later (read through the thread
 * pool).
 */
const AGES = [
  ['just written', async () => {}],
  [
    'an hour old',
    async (path: string) => {
      await utimes(path, HOUR_AGO, HOUR_AGO)
    }
  ]
] as const

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}

describe('FilesystemDriver never returns wrong bytes, never trusts a damaged object', () => {
  it.each(AGES)(
    'fetch throws ERR_INTEGRITY for a flipped byte (%s); fetchStream errors at its end',
    async (_age, age) => {
      const storage = new FilesystemDriver({ root: await tempDir() })
      const { hash, path } = await storage.store(testJpeg('flip', 300_000))
      await flipByte(path, 150_000)
      await age(path)
      const error = await storage.fetch(hash).catch(err => err)
      expect(error).toBeInstanceOf(IntegrityError)
      expect(error).toMatchObject({ code: 'ERR_INTEGRITY', expected: hash, path })
      await expect(drain(await storage.fetchStream(hash))).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
      // and the consumer never receives all of the wrong bytes
      let received = 0
      await expect(
        (async () => {
          for await (const chunk of await storage.fetchStream(hash)) received += (chunk as Buffer).length
        })()
      ).rejects.toThrow()
      expect(received).toBeLessThan(300_000)
    }
  )

  const damages = [
    [
      'a 0-byte file (a crashed writer without fsync)',
      async (path: string) => {
        await truncate(path, 0)
      }
    ],
    [
      'a truncated file',
      async (path: string) => {
        await truncate(path, 1000)
      }
    ],
    [
      'a same-size file with a flipped byte',
      async (path: string) => {
        await flipByte(path, 500)
      }
    ]
  ] as const
  it.each(damages.flatMap(([name, damage]) => AGES.map(([age, aged]) => [`${name}, ${age}`, damage, aged] as const)))(
    'store of the right bytes repairs %s, and does not call it a duplicate',
    async (_name, damage, age) => {
      for (const input of ['buffer', 'stream'] as const) {
        const storage = new FilesystemDriver({ root: await tempDir() })
        const jpeg = testJpeg(`repair ${input}`, 50_000)
        const { path } = await storage.store(jpeg)
        await damage(path)
        await age(path)
        const again = await storage.store(
          input === 'buffer'
            ? jpeg
            : (async function* () {
                yield jpeg
              })()
        )
        expect(again.isDuplicate).toBe(false)
        expect(Buffer.compare(await readFile(path), jpeg)).toBe(0)
        expect((await storage.store(jpeg)).isDuplicate).toBe(true)
        expect(await strayTemps(storage)).toEqual([])
      }
    }
  )

  it('a 0-byte or truncated object is present and damaged: exists, stat and list see it, fetch and verify judge it', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    for (const [seed, size] of [
      ['empty', 0],
      ['truncated', 1000]
    ] as const) {
      const { hash, path } = await storage.store(testJpeg(seed))
      await truncate(path, size)
      expect(await storage.exists(hash)).toBe(true)
      expect(await storage.stat(hash)).toMatchObject({ size })
      await expect(storage.fetch(hash)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
      const listed = []
      for await (const entry of storage.list()) if (entry.hash === hash) listed.push(entry.size)
      expect(listed).toEqual([size])
      expect((await storage.verify()).problems.find(p => p.path === path)?.reason).toBe(
        size === 0 ? 'empty' : 'truncated'
      )
    }
  })

  it('a duplicate keeps the original object and its time', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const jpeg = testJpeg('keeps')
    const first = await storage.store(jpeg)
    const before = await stat(first.path)
    await new Promise(resolve => setTimeout(resolve, 20))
    const second = await storage.store(jpeg)
    // the first store's time is the file's birth (its mtime where there is none), not its mtime:
    // the write that sets the mtime comes a round trip after the create
    expect(second.storedAt.getTime()).toBe((before.birthtimeMs > 0 ? before.birthtime : before.mtime).getTime())
    expect((await stat(first.path)).ino).toBe(before.ino)
  })
})
