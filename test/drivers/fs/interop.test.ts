import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg, testPng } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const STORAGE_PY = new URL('../../infra/fixtures/storage_py.py', import.meta.url).pathname
const python = (...args: string[]): string =>
  execFileSync('python3', [STORAGE_PY, ...args], { encoding: 'utf8' }).trim()

describe('FilesystemDriver shares one store with the Python service (storage.py)', () => {
  it('finds, fetches and deduplicates what Python wrote', async () => {
    const root = await tempDir()
    const inputs = await tempDir()
    const images = [testJpeg('py 1', 600 * 1024), testJpeg('py 2'), testPng('py png')]
    const written = []
    for (const [i, image] of images.entries()) {
      const file = join(inputs, `${i}.jpg`)
      await writeFile(file, image)
      written.push(JSON.parse(python(root, 'store', file)))
    }
    const storage = new FilesystemDriver({ root })
    for (const [i, py] of written.entries()) {
      expect(py.is_duplicate).toBe(false)
      expect(storage.pathOf(py.hash)).toBe(py.path)
      expect(storage.keyOf(py.hash)).toBe(python(root, 'relative', py.hash))
      expect(await storage.exists(py.hash)).toBe(true)
      expect(Buffer.compare(await storage.fetch(py.hash), images[i]!)).toBe(0)
      const ours = await storage.store(images[i]!)
      expect(ours).toMatchObject({ hash: py.hash, path: py.path, isDuplicate: true })
    }
    const listed = []
    for await (const entry of storage.list()) listed.push(entry.hash)
    expect(listed.sort()).toEqual(written.map(w => w.hash).sort())
  })

  it('writes where Python looks, and Python deduplicates against it', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const jpeg = testJpeg('ours', 100_000)
    const ours = await storage.store(jpeg)
    expect(ours.path).toBe(join(root, ours.hash.slice(0, 2), ours.hash.slice(2, 4), `${ours.hash}.jpg`))
    expect(python(root, 'fetch', ours.hash)).toBe(ours.sha256)
    const file = join(await tempDir(), 'input.jpg')
    await writeFile(file, jpeg)
    expect(JSON.parse(python(root, 'store', file))).toMatchObject({
      hash: ours.hash,
      path: ours.path,
      is_duplicate: true
    })
  })

  it('names non-JPEG images {hash}.jpg too: one name per digest, found by both', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const png = await storage.store(testPng('named'))
    expect(png.mimeType).toBe('image/png')
    expect(png.key.endsWith(`${png.hash}.jpg`)).toBe(true)
    expect(python(root, 'fetch', png.hash)).toBe(png.sha256)
  })
})
