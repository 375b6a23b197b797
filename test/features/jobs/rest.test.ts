// An import takes a file once it has rested (`minAgeMs`, `--min-age`): a frame still being written, by a real
// writer in another process, is never stored and recorded as its first part, and a file read while it changes is
// never stored at all (core/input.ts).
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryDriver } from '../../../src/drivers/memory/index.js'
import { importTree } from '../../../src/features/jobs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { cli } from '../../cli/run.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
const records = async (mapping: string): Promise<any[]> =>
  (await readFile(mapping, 'utf8'))
    .split('\n')
    .filter(line => line.startsWith('{"source"'))
    .map(line => JSON.parse(line))

/**
 * A writer in its own process, as the dashboard's `writeFile` is to the import: `frame` written in `parts` (byte
 * counts) one after another into `path` (opened once, truncated), `pauseMs` apart; `{"written":n}` on stdout after
 * each.
 */
async function writer(
  path: string,
  frame: Buffer,
  parts: number[],
  pauseMs: number
): Promise<{ wrote: (n: number) => Promise<void>; done: Promise<void> }> {
  const source = join(await tempDir('sai-writer'), 'frame')
  await writeFile(source, frame)
  const script = `
    const fs = require('node:fs')
    const [path, source, pause, ...parts] = process.argv.slice(1)
    const bytes = fs.readFileSync(source)
    const fd = fs.openSync(path, 'w')
    let i = 0
    let at = 0
    const next = () => {
      fs.writeSync(fd, bytes.subarray(at, at + Number(parts[i])))
      at += Number(parts[i])
      console.log(JSON.stringify({ written: ++i }))
      if (i < parts.length) setTimeout(next, Number(pause))
      else fs.closeSync(fd)
    }
    next()`
  const child = spawn(process.execPath, ['-e', script, path, source, String(pauseMs), ...parts.map(String)], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  children.push(child)
  let written = 0
  const waiters: Array<[number, () => void]> = []
  child.stdout!.on('data', (data: Buffer) => {
    written += data
      .toString()
      .split('\n')
      .filter(line => line.startsWith('{')).length
    for (const [n, resolve] of waiters) if (written >= n) resolve()
  })
  return {
    wrote: async n => await new Promise<void>(resolve => (written >= n ? resolve() : waiters.push([n, resolve]))),
    done: new Promise<void>(resolve => child.on('close', () => resolve()))
  }
}
const children: ChildProcess[] = []
const stored = async (storage: MemoryDriver): Promise<string[]> => {
  const hashes: string[] = []
  for await (const entry of storage.list()) hashes.push(entry.hash)
  return hashes
}
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

describe('import waits for a file still being written', () => {
  it('a frame written in two parts 1.2 s apart is imported whole, by default; with --min-age 0s its first part would be', async () => {
    const frame = testJpeg('written in two parts', 600 * 1024)
    const first = frame.subarray(0, 512 * 1024)
    for (const minAgeMs of [undefined, 0]) {
      const dir = await tempDir('sai-live')
      const mapping = join(await tempDir(), 'import.jsonl')
      const storage = new MemoryDriver()
      const live = await writer(join(dir, 'cam1.jpg'), frame, [first.length, frame.length - first.length], 1200)
      await live.wrote(1) // the first 512 KiB on disk, the rest to come
      const summary = await importTree(storage, dir, { mapping, minAgeMs })
      await live.done
      const [record] = await records(mapping)
      if (minAgeMs === undefined) {
        expect(summary).toMatchObject({ total: 1, done: 1, failed: [] })
        expect(record).toMatchObject({ source: 'cam1.jpg', hash: sha256(frame), size: frame.length })
        expect((await storage.fetch(sha256(frame))).equals(frame)).toBe(true)
        expect(await storage.exists(sha256(first))).toBe(false)
      } else {
        // the control: an import that does not wait reads the first part; it used to record it (and a rerun would
        // pass over the whole frame): its missing end marker now fails it, unrecorded (unfinished.test.ts)
        expect(summary).toMatchObject({
          total: 1,
          done: 0,
          failed: [expect.objectContaining({ code: 'ERR_INVALID_INPUT' })]
        })
        expect(record).toBeUndefined()
      }
    }
  })

  it('a file that keeps changing fails (ERR_INVALID_INPUT), is not recorded, and the next run takes it whole', async () => {
    const dir = await tempDir('sai-live')
    const mapping = join(await tempDir(), 'import.jsonl')
    const storage = new MemoryDriver()
    const frame = testJpeg('written slowly', 300 * 1024)
    const live = await writer(join(dir, 'slow.jpg'), frame, Array(75).fill(4 * 1024), 100) // 7.5 s of writes, 100 ms apart
    await live.wrote(1)
    const first = await importTree(storage, dir, { mapping, minAgeMs: 600 }) // gives up after 10 waits of <= 600 ms
    expect(first.done).toBe(0)
    expect(first.failed).toEqual([
      expect.objectContaining({
        item: 'slow.jpg',
        code: 'ERR_INVALID_INPUT',
        message: expect.stringMatching(/still being written/)
      })
    ])
    expect(await records(mapping)).toEqual([])
    expect(await stored(storage)).toEqual([]) // nothing stored
    await live.done
    const second = await importTree(storage, dir, { mapping, minAgeMs: 600 })
    expect(second).toMatchObject({ done: 1, failed: [] })
    expect(await records(mapping)).toEqual([expect.objectContaining({ source: 'slow.jpg', hash: sha256(frame) })])
  })

  it('a run stopped while it waits leaves the file for the next run: neither done nor failed, not recorded', async () => {
    const dir = await tempDir('sai-live')
    const mapping = join(await tempDir(), 'import.jsonl')
    const storage = new MemoryDriver()
    const frame = testJpeg('fresh when stopped')
    await writeFile(join(dir, 'fresh.jpg'), frame)
    const stop = new AbortController()
    setTimeout(() => stop.abort(), 300)
    const started = Date.now()
    const stopped = await importTree(storage, dir, { mapping, minAgeMs: 60_000, signal: stop.signal })
    expect(Date.now() - started).toBeLessThan(5000)
    expect(stopped).toMatchObject({ total: 1, done: 0, failed: [], interrupted: true })
    expect(await records(mapping)).toEqual([])
    expect(await storage.exists(sha256(frame))).toBe(false)
    expect(await importTree(storage, dir, { mapping, minAgeMs: 0 })).toMatchObject({ done: 1, interrupted: false })
  })

  it('a file whose times say "young" by a clock ahead is taken once it is seen unchanged across a wait', async () => {
    const dir = await tempDir('sai-live')
    const mapping = join(await tempDir(), 'import.jsonl')
    const frame = testJpeg('from a server whose clock is ahead')
    const path = join(dir, 'ahead.jpg')
    await writeFile(path, frame)
    const hourAhead = new Date(Date.now() + 3_600_000)
    await utimes(path, hourAhead, hourAhead)
    expect((await stat(path)).mtimeMs).toBeGreaterThan(Date.now() + 3_000_000)
    const started = Date.now()
    const summary = await importTree(new MemoryDriver(), dir, { mapping, minAgeMs: 400 })
    expect(summary).toMatchObject({ done: 1, failed: [] })
    expect(Date.now() - started).toBeLessThan(5000) // one wait, not an hour
    expect(await records(mapping)).toEqual([expect.objectContaining({ hash: sha256(frame) })])
  })

  it('sai-images import --min-age takes a duration with its unit, and says so for a bare number (exit 2)', async () => {
    const dir = await tempDir('sai-live')
    await writeFile(join(dir, 'a.jpg'), testJpeg('cli min age'))
    const env = { SAI_IMAGE_STORAGE_PATH: await tempDir() }
    const mapping = join(await tempDir(), 'import.jsonl')
    const bare = cli(['import', dir, '--mapping', mapping, '--min-age', '5'], { env })
    expect(bare.code).toBe(2)
    expect(bare.stderr).toMatch(/--min-age takes a duration such as .*45s, not "5"/)
    expect(await stat(mapping).catch(() => undefined)).toBeUndefined() // refused before anything
    const run = cli(['import', dir, '--mapping', mapping, '--min-age', '0s'], { env })
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/import complete: 1 done/)
    expect(cli(['help', 'import']).stdout).toMatch(/--min-age \(default 2s/)
  })
})
