// A store records its layout: .sai-layout.json at the root on first creation; settings that say
// otherwise are ERR_CONFIG at the first call, naming both; a store without the record (storage.py's)
// is judged by its first shard folders before a whole-store command. Both ways round.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { answer, cli } from '../../cli/run.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const DEEP = { SAI_IMAGE_STORAGE_SHARD_DEPTH: '3', SAI_IMAGE_STORAGE_SHARD_WIDTH: '1' }

describe('the layout record', () => {
  it('is written on first creation, holds depth and width, and no walk or listing counts it', async () => {
    const root = join(await tempDir(), 'images')
    const storage = new FilesystemDriver({ root, sharding: new PrefixSharding({ depth: 0 }) })
    const { hash } = await storage.store(testJpeg(`layout ${root}`))
    expect(JSON.parse(await readFile(join(root, '.sai-layout.json'), 'utf8'))).toEqual({ depth: 0, width: 2 })
    const listed = []
    for await (const entry of storage.list()) listed.push(entry.hash)
    expect(listed).toEqual([hash])
    const report = await storage.verify()
    expect(report.problems).toEqual([])
    expect(report.checked).toBe(1)
    expect(await readdir(join(root, '.tmp'))).toEqual([]) // the record's temp file is gone
  })

  it('is written for any sharding with a descriptor, not only for an instance of our PrefixSharding', async () => {
    const root = join(await tempDir(), 'images')
    const prefix = new PrefixSharding({ depth: 1, width: 3 })
    // as another copy of the library (CommonJS beside ESM) would hand it over: no instanceof holds
    const sharding = {
      depth: 1,
      encode: (sha256: string) => prefix.encode(sha256),
      decode: (key: string) => prefix.decode(key),
      isShardDir: (name: string) => prefix.isShardDir(name),
      descriptor: { kind: 'prefix' as const, depth: 1, width: 3 }
    }
    const storage = new FilesystemDriver({ root, sharding })
    const { hash, key } = await storage.store(testJpeg(`layout described ${root}`))
    expect(key).toBe(`${hash.slice(0, 3)}/${hash}.jpg`)
    expect(JSON.parse(await readFile(join(root, '.sai-layout.json'), 'utf8'))).toEqual({ depth: 1, width: 3 })
  })

  it('a store made with depth 3 width 1 is ERR_CONFIG under the defaults, naming both, at the first call', async () => {
    const root = await tempDir()
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const file = join(await tempDir(), 'f.jpg')
    await writeFile(file, testJpeg(`layout deep ${root}`))
    const stored = cli(['store', file, '--json'], { env: { ...env, ...DEEP } })
    expect(stored.code).toBe(0)
    const { hash } = answer(stored)
    for (const args of [
      ['verify'],
      ['list'],
      ['stats'],
      ['exists', hash],
      ['fetch', hash, '-o', join(await tempDir('sai-out'), 'x.jpg')],
      ['prune', '--older-than', '1d', '--dry-run'],
      ['store', file]
    ]) {
      const run = cli([...args, '--json'], { env })
      expect(run.code, args.join(' ')).toBe(6)
      const { error } = answer(run)
      expect(error.code).toBe('ERR_CONFIG')
      expect(error.message).toContain('SAI_IMAGE_STORAGE_SHARD_DEPTH and SAI_IMAGE_STORAGE_SHARD_WIDTH')
      expect(error.message).toContain(
        'has shard depth 3 and width 1 (its .sai-layout.json), but the settings say depth 2 and width 2'
      )
    }
    // with its own settings, it is whole
    expect(answer(cli(['verify', '--json'], { env: { ...env, ...DEEP } }))).toMatchObject({ checked: 1 })
  })

  it('a store storage.py made (no record) is judged by its first shard folders before verify and list', async () => {
    const root = await tempDir()
    // storage.py's layout: ab/cd/<sha256>.jpg, and no record
    const bytes = testJpeg(`layout python ${root}`)
    const hash = (await new FilesystemDriver({ root: await tempDir() }).store(bytes)).hash
    await mkdir(join(root, hash.slice(0, 2), hash.slice(2, 4)), { recursive: true })
    await writeFile(join(root, hash.slice(0, 2), hash.slice(2, 4), `${hash}.jpg`), bytes)
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    for (const args of [['verify'], ['list']]) {
      const run = cli([...args, '--json'], { env: { ...env, ...DEEP } })
      expect(run.code, args.join(' ')).toBe(6)
      expect(answer(run).error.message).toContain(
        'has shard depth 2 and width 2 (its first shard folders), but the settings say depth 3 and width 1'
      )
    }
    expect(answer(cli(['verify', '--json'], { env }))).toMatchObject({ checked: 1 })
    // storing into it writes no record (it is storage.py's store, not empty)
    const file = join(await tempDir(), 'g.jpg')
    await writeFile(file, testJpeg(`layout python 2 ${root}`))
    expect(cli(['store', file], { env }).code).toBe(0)
    await expect(readFile(join(root, '.sai-layout.json'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('a record that is not one is ERR_CONFIG naming the file', async () => {
    const root = await tempDir()
    await writeFile(join(root, '.sai-layout.json'), 'garbage')
    const run = cli(['list', '--json'], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(run.code).toBe(6)
    expect(answer(run).error.message).toContain('.sai-layout.json: not a layout record')
  })
})
