// A variant's source (render.ts renderVerified, and fetch's onUnverified): sharp starts on the bytes as
// read while their SHA-256 is checked, and what it made of them is used only if the check passes.
// A flipped byte in the stored source: no variant is returned or cached; the error, or the replica's
// good bytes (rendered again), are the answer.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import sharp from 'sharp'
import { beforeAll, describe, expect, it } from 'vitest'
import type { FetchOptions } from '../../../src/core/types.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createVariants } from '../../../src/features/variants/index.js'
// @ts-expect-error a plain ES module without types
import { cameraFrame } from '../../../examples/frames.mjs'
import { tempDir } from '../../infra/helpers/tmp.js'
import { flip, pair } from '../replication/helpers.js'

let frame: Buffer
beforeAll(() => {
  frame = Buffer.from(cameraFrame(3)) // 2880x1616, about 600 KB: hashed in slices, after the callback
})

async function cacheFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter(e => e.isFile()).map(e => join(e.parentPath, e.name))
}

/** The thumb preset's work, by sharp alone (tolerant of damage as the variants are: failOn 'error'). */
const thumbOf = async (bytes: Buffer): Promise<Buffer> =>
  await sharp(bytes, { failOn: 'error' })
    .resize({ width: 400, fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer()

/**
 * The store, whose fetch keeps what it handed to `onUnverified` and answers only after `delayMs`:
 * the render of those bytes has finished by then, so that it is there to be (wrongly) used.
 */
function slowFetches(storage: FilesystemDriver, delayMs: number): { storage: FilesystemDriver; handed: Buffer[] } {
  const handed: Buffer[] = []
  const slow = Object.create(storage) as FilesystemDriver
  Object.defineProperty(slow, 'fetch', {
    value: async (ref: string, options: FetchOptions = {}) => {
      const onUnverified = (bytes: Buffer): void => {
        handed.push(Buffer.from(bytes))
        options.onUnverified?.(bytes)
      }
      const settled = await storage.fetch(ref, { ...options, onUnverified }).then(
        value => ({ value }),
        (error: unknown) => ({ error })
      )
      await new Promise(resolve => setTimeout(resolve, delayMs))
      if ('error' in settled) throw settled.error
      return settled.value
    }
  })
  return { storage: slow, handed }
}

describe('a variant of the verified source only', () => {
  it('the filesystem fetch hands the bytes as read to onUnverified, then resolves with that very Buffer', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const { hash, path } = await storage.store(frame)
    const handed: Buffer[] = []
    const bytes = await storage.fetch(hash, { onUnverified: b => handed.push(b) })
    expect(handed).toHaveLength(1)
    expect(handed[0]).toBe(bytes)
    expect(Buffer.compare(bytes, frame)).toBe(0)
    await flip(path)
    const seen: Buffer[] = []
    await expect(storage.fetch(hash, { onUnverified: b => seen.push(b) })).rejects.toMatchObject({
      code: 'ERR_INTEGRITY'
    })
    expect(seen.map(b => Buffer.compare(b, frame) !== 0)).toEqual([true]) // handed, and wrong
  })

  it('a flipped byte in the stored source: its finished render is thrown away, ERR_INTEGRITY, nothing cached', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const { hash, path } = await storage.store(frame)
    await flip(path, frame.length >> 2) // (a flip in the middle changes nothing a thumb shows)
    const damaged = await readFile(path)
    // sharp makes a thumb of the damaged bytes without complaint, and another one than the frame's
    expect(Buffer.compare(await thumbOf(damaged), await thumbOf(frame))).not.toBe(0)
    const slow = slowFetches(storage, 300)
    const variants = createVariants(slow.storage)
    await expect(variants.get(hash, 'thumb')).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    expect(slow.handed.map(b => Buffer.compare(b, damaged))).toEqual([0]) // sharp had them before the check
    expect(await cacheFiles(join(root, '.variants'))).toEqual([]) // no entry, no temp
    expect(await variants.has(hash, 'thumb')).toBe(false)
    await variants.close()
  })

  it("a replicated store's damaged primary copy: the variant is made again from the replica's bytes, and healed", async () => {
    const { storage, primary } = await pair()
    const { hash, path } = await storage.store(frame)
    await storage.drain()
    await flip(path, frame.length >> 2) // (a flip in the middle changes nothing a thumb shows)
    const damaged = await readFile(path)
    const variants = createVariants(storage)
    const thumb = await variants.get(hash, 'thumb')
    expect(thumb.cached).toBe(false)
    const pristine = new FilesystemDriver({ root: await tempDir() })
    await pristine.store(frame)
    const good = (await createVariants(pristine).get(hash, 'thumb')).bytes
    expect(Buffer.compare(thumb.bytes, good)).toBe(0) // the frame's, not the damaged bytes'
    expect(Buffer.compare(await thumbOf(frame), await thumbOf(damaged))).not.toBe(0)
    const [entry, ...more] = await cacheFiles(join(primary.root, '.variants'))
    expect(more).toEqual([])
    expect(Buffer.compare(await readFile(entry!), good)).toBe(0)
    expect(Buffer.compare(await primary.fetch(hash), frame)).toBe(0) // healed from the replica
    expect((await variants.get(hash, 'thumb')).cached).toBe(true)
    await variants.close()
    await storage.close()
  })
})
