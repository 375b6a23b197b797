// fetch: nothing but the image's bytes goes where the bytes go; its answer (and its errors, with
// --json) goes elsewhere; and it does not pour binary onto a terminal unless told to.
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli, onTerminal } from './run.js'

async function oneFrame(): Promise<{ env: Record<string, string>; root: string; hash: string; bytes: Buffer }> {
  const root = await tempDir()
  const bytes = testJpeg(`fetch ${root}`, 40_000)
  const { hash } = await new FilesystemDriver({ root }).store(bytes)
  return { env: { SAI_IMAGE_STORAGE_PATH: root }, root, hash, bytes }
}

describe('fetch to standard output', () => {
  it('--json: stdout holds exactly the bytes, the answer goes to stderr', async () => {
    const { env, root, hash, bytes } = await oneFrame()
    for (const args of [
      ['fetch', hash, '--json'],
      ['--json', 'fetch', hash]
    ]) {
      const run = cli(args, { env })
      expect({ args, code: run.code }).toEqual({ args, code: 0 })
      expect(Buffer.compare(run.bytes, bytes)).toBe(0)
      expect(answer(run, 'stderr')).toEqual({ ref: hash, size: bytes.length, written: '-', store: root })
    }
  })

  it('a failure writes nothing to stdout: with --json its one JSON error goes to stderr', async () => {
    const { env } = await oneFrame()
    for (const args of [
      ['fetch', 'f'.repeat(64), '--json'],
      ['--json', 'fetch', 'f'.repeat(64)],
      ['--json', 'fetch', '../etc/passwd']
    ]) {
      const run = cli(args, { env })
      expect(run.bytes.length).toBe(0)
      expect(run.code).toBe(args.includes('../etc/passwd') ? 3 : 1)
      expect(answer(run, 'stderr').error.code).toBe(
        args.includes('../etc/passwd') ? 'ERR_INVALID_REF' : 'ERR_NOT_FOUND'
      )
    }
    const text = cli(['fetch', 'f'.repeat(64)], { env })
    expect({ code: text.code, bytes: text.bytes.length }).toEqual({ code: 1, bytes: 0 })
    expect(text.stderr).toMatch(/^sai-images: ERR_NOT_FOUND: /)
  })

  it('refuses a terminal unless --force, and then writes the bytes', async () => {
    const { env, hash, bytes } = await oneFrame()
    const refused = onTerminal(['fetch', hash], { env })
    expect(refused.code).toBe(2)
    expect(refused.output).toContain('refusing to write image bytes to a terminal: use -o FILE, a pipe, or --force')
    expect(refused.output.length).toBeLessThan(500) // the message, not 40 KB of JPEG
    const forced = onTerminal(['fetch', hash, '--force'], { env })
    expect(forced.code).toBe(0)
    // the pty rewrites line ends, so look for the longest run of the bytes that holds none
    const runs = bytes
      .toString('latin1')
      .split(/[\r\n]/)
      .sort((a, b) => b.length - a.length)
    expect(runs[0]!.length).toBeGreaterThan(500)
    expect(forced.output.includes(runs[0]!)).toBe(true)
    expect(forced.output.length).toBeGreaterThanOrEqual(bytes.length)
  })
})

describe('fetch -o file', () => {
  it('--json prints one JSON object; the file holds the bytes', async () => {
    const { env, root, hash, bytes } = await oneFrame()
    const out = join(await tempDir(), 'frame.jpg')
    const run = cli(['fetch', hash, '-o', out, '--json'], { env })
    expect(run.code).toBe(0)
    expect(answer(run)).toEqual({ ref: hash, size: bytes.length, written: out, store: root })
    expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
    expect(cli(['fetch', hash, '-o', out], { env }).stdout).toBe(
      `${bytes.length} bytes written to ${out}\nstore: ${root}\n`
    )
  })

  it('-o with a name ending in / makes the folder (and its parents) and writes each object there', async () => {
    const { env, hash, bytes } = await oneFrame()
    const base = await tempDir()
    for (const refs of [[hash], [hash, hash.slice(0, 8)]]) {
      const dir = join(base, `new-${refs.length}`, 'frames/')
      const run = cli(['fetch', ...refs, '-o', dir], { env })
      expect(run.code, run.stderr).toBe(0)
      expect(await readdir(dir)).toEqual([`${hash}.jpg`])
      expect(Buffer.compare(await readFile(join(dir, `${hash}.jpg`)), bytes)).toBe(0)
    }
    // a name without the / is a file, as before; a folder that cannot be made fails once, exit 3
    await writeFile(join(base, 'plain'), 'not a folder')
    const blocked = cli(['fetch', hash, '-o', join(base, 'plain', 'sub/'), '--json'], { env })
    expect(blocked.code).toBe(3)
    expect(answer(blocked).error).toMatchObject({ code: 'ERR_INVALID_INPUT' })
    expect(answer(blocked).error.message).toMatch(/^Cannot create .*plain\/sub\//)
  })

  it('a damaged object leaves no file behind, not even the partial one', async () => {
    const { env, root, hash } = await oneFrame()
    const storage = new FilesystemDriver({ root })
    const path = storage.pathOf(hash)
    const damaged = await readFile(path)
    damaged[damaged.length - 100] = damaged[damaged.length - 100]! ^ 1
    await writeFile(path, damaged)
    const dir = await tempDir()
    const run = cli(['fetch', hash, '-o', join(dir, 'frame.jpg'), '--json'], { env })
    expect(run.code).toBe(4)
    expect(answer(run).error.code).toBe('ERR_INTEGRITY')
    expect(await readdir(dir)).toEqual([])
  })
})

describe('fetch -o heals a replicated store', () => {
  it('a flipped, truncated or deleted primary copy: -o writes the exact bytes and the primary is whole again', async () => {
    const { env: plain, root, hash, bytes } = await oneFrame()
    const env = {
      ...plain,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir('sai-copy')
    }
    expect(cli(['replicate'], { env }).code).toBe(0)
    const path = new FilesystemDriver({ root }).pathOf(hash)
    const damage = {
      flipped: async () => {
        const flipped = Buffer.from(bytes)
        flipped[100] = flipped[100]! ^ 1
        await writeFile(path, flipped)
      },
      truncated: async () => await truncate(path, 1000),
      deleted: async () => await rm(path)
    }
    for (const [how, harm] of Object.entries(damage)) {
      await harm()
      const out = join(await tempDir('sai-out'), 'frame.jpg')
      const run = cli(['fetch', hash, '-o', out], { env })
      expect({ how, code: run.code }).toEqual({ how, code: 0 })
      expect(Buffer.compare(await readFile(out), bytes)).toBe(0)
      expect({ how, healed: Buffer.compare(await readFile(path), bytes) }).toEqual({ how, healed: 0 })
      // the heal is said on stderr (the journal, under systemd), not only counted
      const reason = how === 'deleted' ? 'missing' : 'damaged'
      expect({ how, said: run.stderr }).toEqual({
        how,
        said: `sai-images: info replication.healed: healed ${hash} (${reason}) from fs\n`
      })
    }
  })
})
