// The cache's files (cache.ts, pending.ts, listings.ts): an entry's temp is a plain descriptor,
// closed once whichever way the variant ends (made small or large, with or without fsync, or
// failed), and a folder another writer makes after a lookup found it missing is seen within a second.
import { readdirSync, readlinkSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createVariants } from '../../../src/features/variants/index.js'
// @ts-expect-error a plain ES module without types
import { cameraFrame } from '../../../examples/frames.mjs'
import { tempDir } from '../../infra/helpers/tmp.js'

let frame: Buffer
beforeAll(() => {
  frame = Buffer.from(cameraFrame(5)) // 2880x1616: its thumb is a few KB, its webp some 100 KB
})

/** This process's descriptors open on files under `dir`. */
function openUnder(dir: string): string[] {
  const links = readdirSync('/proc/self/fd').map(fd => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      return '' // the listing's own descriptor, closed by now
    }
  })
  return links.filter(link => link.startsWith(`${dir}/`))
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile()).map(e => e.name)
}

describe('the variant cache on disk', () => {
  it.each([false, true])('closes every entry and temp it opened (fsync %s)', async fsync => {
    const root = await tempDir('sai-variant-files')
    const storage = new FilesystemDriver({ root })
    const variants = createVariants(storage, { fsync })
    const { hash } = await storage.store(frame)
    const thumb = await variants.get(hash, 'thumb') // written, renamed and closed at once
    const webp = await variants.get(hash, 'webp') // over 64 KB: through the thread pool
    expect(thumb.size).toBeLessThan(64 * 1024)
    expect(webp.size).toBeGreaterThan(64 * 1024)
    const broken = await storage.store(Buffer.concat([frame.subarray(0, 40_000), Buffer.alloc(40_000)]))
    await expect(variants.get(broken.hash, 'thumb')).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' })
    await variants.close()
    expect(openUnder(variants.cache.dir)).toEqual([])
    const names = await filesUnder(variants.cache.dir)
    expect(names.filter(name => name.endsWith('.tmp'))).toEqual([]) // the failed one's temp is gone
    expect(names).toEqual(expect.arrayContaining([thumb.key.split('/').pop(), webp.key.split('/').pop()]))
    expect((await variants.get(hash, 'thumb')).cached).toBe(true)
  })

  it("finds another writer's entry in a folder that a lookup found missing, a second later", async () => {
    const root = await tempDir('sai-variant-files')
    const storage = new FilesystemDriver({ root })
    const { hash } = await storage.store(frame)
    const reader = createVariants(storage)
    const writer = createVariants(storage) // another cache object: as another process sees the folder
    expect(reader.isCached(hash, 'thumb')).toBe(false) // its folder and its parent's listing: none yet
    await writer.get(hash, 'thumb')
    await new Promise(resolve => setTimeout(resolve, 1100)) // the listings are a second old at most
    expect(reader.isCached(hash, 'thumb')).toBe(true)
    const got = await reader.get(hash, 'thumb')
    expect(got.cached).toBe(true)
    await Promise.all([reader.close(), writer.close()])
  })
})
