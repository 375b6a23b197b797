// The walk of a large store runs in worker threads, which hand each unit (first-level folder) over
// in a shared slot used again: a unit larger than a slot's first size, more units than slots, a
// key that is not ASCII. list() and verify() must say exactly what the files on disk say.
import { hash as digest } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

/** Objects written straight to disk: `big` of them in the folder `ab`, `each` in the folders 00 to 0f. */
function store(root: string, big: number, each: number): string[] {
  const counts = new Map<string, number>()
  const hashes: string[] = []
  for (let i = 0; (counts.get('ab') ?? 0) < big; i++) {
    const body = `frame ${i}` // (verify needs no JPEG: it compares digests)
    const hash = digest('sha256', body, 'hex')
    const unit = hash.slice(0, 2)
    const count = counts.get(unit) ?? 0
    if (count >= (unit === 'ab' ? big : unit < '10' ? each : 0)) continue
    counts.set(unit, count + 1)
    const dir = join(root, unit, hash.slice(2, 4))
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `${hash}.jpg`), body)
    hashes.push(hash)
  }
  return hashes.sort()
}

describe('the walk in worker threads', () => {
  const say =
    'a unit larger than a slot, more units than slots, a key not in ASCII: list() and verify() say what the disk says'
  it(say, async () => {
    const root = await tempDir()
    // 9,000 files are about 1.06 MB of columns, 1.35 MB hashed: more than a slot's first 1 MB; and
    // the first eight folders hold 80, a large store, walked by workers: nine units, four slots
    const hashes = store(root, 9000, 10)
    expect(hashes.length).toBe(9000 + 16 * 10)
    const damaged = hashes.find(h => h.startsWith('ab'))!
    const damagedPath = join(root, 'ab', damaged.slice(2, 4), `${damaged}.jpg`)
    const bytes = readFileSync(damagedPath)
    bytes[0] ^= 1
    writeFileSync(damagedPath, bytes)
    const strayKey = `ab/${damaged.slice(2, 4)}/café-ñandú-写真.jpg`
    writeFileSync(join(root, strayKey), 'not a frame')

    const storage = new FilesystemDriver({ root, fsync: false })
    const listed = []
    for await (const entry of storage.list()) listed.push(entry)
    expect(listed.map(e => e.hash)).toEqual(hashes)
    const onDisk = hashes.map(sha256 => {
      const key = `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}.jpg`
      const stats = statSync(join(root, key))
      return { hash: sha256, sha256, key, path: join(root, key), size: stats.size, lastStoredAt: stats.mtime.getTime() }
    })
    expect(listed.map(e => ({ ...e, lastStoredAt: e.lastStoredAt?.getTime() }))).toEqual(onDisk)

    const report = await storage.verify()
    expect(report).toMatchObject({
      clean: false,
      checked: hashes.length,
      bytes: listed.reduce((sum, e) => sum + e.size!, 0)
    })
    expect(report.problems.map(p => [p.key, p.reason])).toEqual(
      [
        [`ab/${damaged.slice(2, 4)}/${damaged}.jpg`, 'corrupt'],
        [strayKey, 'misnamed']
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1))
    )

    // the checkpoints: after each unit, the last object checked in it (a corrupt one too)
    const done: string[] = []
    await storage.verify({ onProgress: p => p.lastDone !== undefined && done.push(p.lastDone) })
    expect(done.at(-1)).toBe(hashes.at(-1))
    expect(done).toContain(hashes.filter(h => h.startsWith('ab')).at(-1))
    expect(done.every((h, i) => hashes.includes(h) && (i === 0 || h > done[i - 1]!))).toBe(true)

    // a cursor into the big unit, and a prefix inside it
    const after = hashes[hashes.length - 10]!
    const tail = []
    for await (const entry of storage.list({ after })) tail.push(entry.hash)
    expect(tail).toEqual(hashes.slice(-9))
    const inside = []
    for await (const entry of storage.list({ prefix: 'ab' })) inside.push(entry.hash)
    expect(inside).toEqual(hashes.filter(h => h.startsWith('ab')))
  }, 120_000)

  it('workers rebuild a described sharding (depth 1, width 3, plain data): list and verify agree', async () => {
    const root = await tempDir()
    const hashes: string[] = []
    // 80 files in the first eight folders (000 to 007): a large store, walked by workers; 40 elsewhere
    for (let i = 0, near = 0, far = 0; near < 80 || far < 40; i++) {
      const body = `wide ${i}`
      const hash = digest('sha256', body, 'hex')
      const isNear = hash.slice(0, 3) < '008'
      if (isNear ? near++ >= 80 : far++ >= 40) continue
      mkdirSync(join(root, hash.slice(0, 3)), { recursive: true })
      writeFileSync(join(root, hash.slice(0, 3), `${hash}.jpg`), body)
      hashes.push(hash)
    }
    hashes.sort()
    const stray = digest('sha256', 'stray', 'hex')
    const strayKey = `${hashes[0]!.slice(0, 3)}/${stray}.jpg` // in a folder its digits do not name: misplaced
    writeFileSync(join(root, strayKey), 'stray')
    const prefix = new PrefixSharding({ depth: 1, width: 3 })
    const sharding = {
      depth: 1,
      encode: (sha256: string) => prefix.encode(sha256),
      decode: (key: string) => prefix.decode(key),
      isShardDir: (name: string) => prefix.isShardDir(name),
      descriptor: prefix.descriptor
    }
    const storage = new FilesystemDriver({ root, fsync: false, sharding })
    const listed = []
    for await (const entry of storage.list()) listed.push(entry)
    expect(listed.map(e => [e.hash, e.key])).toEqual(hashes.map(h => [h, `${h.slice(0, 3)}/${h}.jpg`]))
    const report = await storage.verify()
    expect(report).toMatchObject({ checked: hashes.length, clean: false })
    expect(report.problems.map(p => [p.key, p.reason])).toEqual([[strayKey, 'misplaced']])
  }, 60_000)
})

describe('what a listing counts as an object', () => {
  // a leaf folder is read by name, and each name's lstat tells a file (walk-scan.ts): a stat would
  // follow the link and list it, and a folder named like an object must not be read as one
  for (const [walk, big, each] of [
    ['inline (a small store)', 1, 1],
    ['in worker threads', 100, 10]
  ] as const)
    it(`${walk}: a symbolic link or a folder named like an object is not one`, async () => {
      const root = await tempDir()
      const hashes = store(root, big, each)
      const target = hashes.find(h => h.startsWith('ab'))!
      const link = digest('sha256', 'a link', 'hex')
      const folder = digest('sha256', 'a folder', 'hex')
      for (const name of [link, folder]) mkdirSync(join(root, name.slice(0, 2), name.slice(2, 4)), { recursive: true })
      symlinkSync(
        join(root, 'ab', target.slice(2, 4), `${target}.jpg`),
        join(root, link.slice(0, 2), link.slice(2, 4), `${link}.jpg`)
      )
      mkdirSync(join(root, folder.slice(0, 2), folder.slice(2, 4), `${folder}.jpg`))
      const listed = []
      for await (const entry of new FilesystemDriver({ root, fsync: false }).list()) listed.push(entry.hash)
      expect(listed).toEqual(hashes)
    })
})
