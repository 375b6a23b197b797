// The files a job writes besides the store (import's mapping, prune's --list) on a full disk or at a
// path that cannot be written: a typed error and its exit code, one JSON answer, never a crash and
// never a summary that says the file was written.
import { execFileSync } from 'node:child_process'
import { readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { smallTmpfs, tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

const isRoot = process.getuid?.() === 0

/** `count` frames of 3000 bytes in a folder to import, and a store. */
async function frames(count: number): Promise<{ src: string; env: Record<string, string> }> {
  const src = await tempDir()
  for (let i = 0; i < count; i++) await writeFile(join(src, `${i}.jpg`), testJpeg(`job files ${src} ${i}`, 3000))
  return { src, env: { SAI_IMAGE_STORAGE_PATH: await tempDir() } }
}

/** Fills a tmpfs but `room` bytes. */
async function fill(dir: string, room: number): Promise<void> {
  const free = Number(execFileSync('df', ['--output=avail', '-B1', dir]).toString().split('\n')[1])
  await writeFile(join(dir, 'filler'), Buffer.alloc(Math.max(0, free - room)))
}

describe.skipIf(!isRoot)('a full disk under the files a job writes (real ENOSPC)', () => {
  it('import: a mapping that cannot be written stops the job with ERR_STORAGE_UNAVAILABLE (exit 5), and a rerun records every file once', async () => {
    const { src, env } = await frames(40)
    const disk = await smallTmpfs('64k')
    await fill(disk, 4096)
    const mapping = join(disk, 'import.jsonl')
    const full = cli(['import', '--min-age', '0s', src, '--mapping', mapping, '--json'], { env })
    expect(full.code).toBe(5)
    expect(answer(full).error).toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      message: expect.stringContaining('ENOSPC')
    })
    await writeFile(join(disk, 'filler'), '')
    const again = cli(['import', '--min-age', '0s', src, '--mapping', mapping, '--json'], { env })
    expect(again.code).toBe(0)
    const [own, ...records] = (await readFile(mapping, 'utf8'))
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
    expect(Object.keys(own)).toEqual(['mapping'])
    expect(records.map(line => line.source).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `${i}.jpg`).sort())
  })

  it('prune --dry-run --list F: a list that cannot be written is ERR_INVALID_INPUT (exit 3), not "listed in F"', async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const old = new Date(Date.now() - 2 * 86_400_000)
    for (let i = 0; i < 200; i++)
      await utimes((await storage.store(testJpeg(`list ${root} ${i}`, 1000))).path, old, old)
    const disk = await smallTmpfs('64k')
    await fill(disk, 0)
    const list = join(disk, 'candidates.txt')
    const run = cli(['prune', '--older-than', '1d', '--dry-run', '--list', list, '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: root }
    })
    expect(run.stderr).toMatch(/^sai-images: ERR_INVALID_INPUT: [^\n]*\n$/) // one line, no stack
    expect(run.code).toBe(3)
    expect(answer(run).error).toMatchObject({ code: 'ERR_INVALID_INPUT', message: expect.stringContaining('ENOSPC') })
  })
})

describe.skipIf(!isRoot)('a read-only store under the variant cache (real EROFS)', () => {
  it('variants: ERR_STORAGE_UNAVAILABLE (exit 5), not ERR_INTERNAL "a bug" (exit 70)', async () => {
    const root = join(await smallTmpfs('4m'), 'images')
    const storage = new FilesystemDriver({ root })
    for (let i = 0; i < 3; i++) await storage.store(testJpeg(`read-only ${root} ${i}`, 2000))
    await storage.close()
    execFileSync('mount', ['-o', 'remount,ro', join(root, '..')])
    try {
      const run = cli(['variants', 'thumb', '--json'], { env: { SAI_IMAGE_STORAGE_PATH: root } })
      expect(answer(run).error).toMatchObject({ code: 'ERR_STORAGE_UNAVAILABLE' })
      expect(run.code).toBe(5)
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', join(root, '..')])
    }
  })
})

describe('prune --dry-run --list at a path that cannot be opened', () => {
  it('is ERR_INVALID_INPUT (exit 3) before the prune, with one JSON answer (it was an unhandled error event)', async () => {
    const root = await tempDir()
    await new FilesystemDriver({ root }).store(testJpeg(`list ${root}`, 1000))
    const list = join(await tempDir(), 'no-such-folder', 'candidates.txt')
    const run = cli(['prune', '--older-than', '1s', '--dry-run', '--list', list, '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: root }
    })
    expect(run.stderr).toMatch(/^sai-images: ERR_INVALID_INPUT: [^\n]*\n$/) // one line, no stack
    expect(run.code).toBe(3)
    expect(answer(run).error).toMatchObject({ code: 'ERR_INVALID_INPUT', message: expect.stringContaining('ENOENT') })
  })
})
