import { link, mkdir, readdir, readFile, rename, stat, truncate, utimes, writeFile } from 'node:fs/promises'
import { renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { PrefixSharding, prefixKeys } from '../../../src/core/sharding.js'
import { testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'

describe('FilesystemDriver.verify: the fsck', () => {
  it('tempMinAgeMs: 0 takes every leftover, even one whose file time reads a little after the pass began', async () => {
    // the kernel's file times are coarser than Date.now(): a set-aside made just before a recovery's
    // verify could read as younger than 0 ms and stay in .pruning (found by test/crash, seed 4242)
    const storage = new FilesystemDriver({ root: await tempDir() })
    await storage.store(testJpeg('ahead'))
    const ahead = new Date(Date.now() + 5_000)
    const temp = join(storage.root, '.tmp', 'ahead.tmp')
    await writeFile(temp, 'x')
    await utimes(temp, ahead, ahead)
    const report = await storage.verify({ repair: true, tempMinAgeMs: 0 })
    expect(report.problems).toMatchObject([{ reason: 'stray-temp', action: 'removed' }])
    await expect(stat(temp)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('finds every injected fault and --repair leaves a clean store', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const results = []
    for (let i = 0; i < 8; i++) results.push(await storage.store(testJpeg(`verify ${i}`, 10_000)))
    const [flipped, truncated, emptied, misnamed, ...intact] = results
    const bytes = await readFile(flipped!.path)
    bytes[5000] = bytes[5000]! ^ 1
    await writeFile(flipped!.path, bytes)
    await truncate(truncated!.path, 4000)
    await truncate(emptied!.path, 0)
    const wrongPlace = join(storage.root, '00', '00', `${misnamed!.hash}.jpg`)
    await mkdir(join(storage.root, '00', '00'), { recursive: true })
    await rename(misnamed!.path, wrongPlace)
    const old = new Date(Date.now() - 2 * 3600_000)
    const ourTemp = join(storage.root, '.tmp', 'stray.tmp')
    const pythonTemp = join(storage.root, intact[0]!.key.replace(/\.jpg$/, '.tmp'))
    for (const temp of [ourTemp, pythonTemp]) {
      await writeFile(temp, 'partial')
      await utimes(temp, old, old)
    }
    const freshTemp = join(storage.root, '.tmp', 'live-writer.tmp')
    await writeFile(freshTemp, 'in progress')

    const report = await storage.verify()
    expect(report.clean).toBe(false)
    const found = Object.fromEntries(report.problems.map(p => [p.path, p.reason]))
    expect(found).toEqual({
      [flipped!.path]: 'corrupt',
      [truncated!.path]: 'truncated',
      [emptied!.path]: 'empty',
      [wrongPlace]: 'misplaced',
      [ourTemp]: 'stray-temp',
      [pythonTemp]: 'stray-temp'
    })
    expect(report.checked).toBe(7)

    const repaired = await storage.verify({ repair: true })
    expect(repaired.problems).toHaveLength(6)
    // three frames are lost from the store (quarantined): a repair that removed a frame is never clean;
    // the intact one in the wrong folder is moved into place, not quarantined as lost
    expect(repaired).toMatchObject({
      clean: false,
      quarantined: 3,
      removed: 2,
      restored: 1,
      counts: { corrupt: 1, truncated: 1, empty: 1, misplaced: 1, 'stray-temp': 2 },
      quarantine: { objects: 3 }
    })
    expect(
      repaired.problems
        .filter(p => p.action === 'quarantined')
        .map(p => p.reason)
        .sort()
    ).toEqual(['corrupt', 'empty', 'truncated'])
    expect(repaired.problems.find(p => p.reason === 'misplaced')).toMatchObject({
      action: 'moved',
      movedTo: misnamed!.path
    })
    const quarantined = await readdir(join(storage.root, '.quarantine'))
    expect(quarantined).toHaveLength(3)
    expect(await readdir(join(storage.root, '.tmp'))).toEqual(['live-writer.tmp'])
    const after = await storage.verify()
    expect(after).toMatchObject({ clean: true, problems: [], checked: 5, quarantine: { objects: 3 } })
    for (const result of intact) expect(await storage.exists(result.hash)).toBe(true)
    // the quarantined objects are absent now, and a store of the right bytes brings them back
    expect(await storage.exists(flipped!.hash)).toBe(false)
    await expect(storage.fetch(flipped!.hash)).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringContaining('a repair quarantined it')
    })
    expect((await storage.store(testJpeg('verify 0', 10_000))).isDuplicate).toBe(false)
  })
})

describe('FilesystemDriver.verify: repairs that cannot do harm', () => {
  async function store(count: number): Promise<{ root: string; hashes: string[] }> {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    const hashes = []
    for (let i = 0; i < count; i++) hashes.push((await storage.store(testJpeg(`storm ${root} ${i}`, 3000))).hash)
    return { root, hashes }
  }

  it('a wrong shard depth on a store that records its layout is refused before the repair changes anything', async () => {
    const { root, hashes } = await store(21)
    const wrong = new FilesystemDriver({ root, sharding: new PrefixSharding({ depth: 3 }) })
    await expect(wrong.verify({ repair: true })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('.sai-layout.json')
    })
    const right = new FilesystemDriver({ root })
    for (const hash of hashes) expect(await right.exists(hash)).toBe(true)
    expect(await readdir(join(root, '.quarantine')).catch(() => [])).toEqual([])
  })

  it('a wrong shard depth that no record can refuse is a storm: the repair changes nothing, names the setting and --force', async () => {
    // a sharding of the caller's own has no descriptor, so nothing is recorded or checked: only the storm guards
    const { root, hashes } = await store(21)
    const wrong = new FilesystemDriver({ root, sharding: prefixKeys({ kind: 'prefix', depth: 3, width: 2 }) })
    const report = await wrong.verify({ repair: true })
    expect(report).toMatchObject({ clean: false, quarantined: 0, restored: 0, storm: { found: 21, objects: 21 } })
    expect(report.storm!.cause).toMatch(/SAI_IMAGE_STORAGE_SHARD_DEPTH/)
    expect(report.storm!.cause).toMatch(/--force/)
    const right = new FilesystemDriver({ root })
    for (const hash of hashes) expect(await right.exists(hash)).toBe(true)
    expect(await readdir(join(root, '.quarantine')).catch(() => [])).toEqual([])
  })

  it('a frame found damaged, whole again by the time the repair acts (a store replaced it), never leaves its name', async () => {
    const storage = new FilesystemDriver({ root: await tempDir() })
    const { hash, path } = await storage.store(testJpeg('whole again', 30_000))
    const before = await stat(path)
    // what the repair calls for each damaged finding, hours after its scan on a large store
    expect(await storage.quarantine.takeDamaged(path, hash, 'corrupt')).toBeUndefined()
    const after = await stat(path)
    expect({ ino: after.ino, ctime: after.ctimeMs }).toEqual({ ino: before.ino, ctime: before.ctimeMs }) // never moved
    expect(await readdir(join(storage.root, '.quarantine')).catch(() => [])).toEqual([])
  })

  it('a few damaged frames in a store are no storm: the repair quarantines them', async () => {
    const { root, hashes } = await store(30)
    const storage = new FilesystemDriver({ root })
    for (const hash of hashes.slice(0, 3)) await truncate(storage.pathOf(hash), 100)
    const report = await storage.verify({ repair: true })
    expect(report).toMatchObject({ quarantined: 3 })
    expect(report.storm).toBeUndefined()
  })

  it('a damaged frame made whole while the repair looked (a store, storage.py) is put back, not quarantined', async () => {
    const { root, hashes } = await store(30)
    const storage = new FilesystemDriver({ root })
    const [mended, damaged] = hashes as [string, string]
    const whole = await readFile(storage.pathOf(mended))
    for (const hash of [mended, damaged]) await truncate(storage.pathOf(hash), 100)
    const report = await storage.verify({
      repair: true,
      // the repair looks over the whole store first, then acts: meanwhile a writer renames a whole copy in
      onFinding: finding => {
        if (!finding.key.includes(mended)) return
        writeFileSync(`${finding.path}.part`, whole)
        renameSync(`${finding.path}.part`, finding.path)
      }
    })
    expect(report).toMatchObject({ quarantined: 1, restored: 1 })
    expect(report.problems.find(p => p.key.includes(mended))).toMatchObject({ action: 'restored' })
    expect((await storage.fetch(mended)).equals(whole)).toBe(true)
    await expect(storage.fetch(damaged)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    const left = []
    for await (const entry of storage.quarantine.list()) left.push(entry.sha256)
    expect(left).toEqual([damaged])
  })

  it('over the count limit of the store, a storm too; --force repairs', async () => {
    const { root, hashes } = await store(40)
    const storage = new FilesystemDriver({ root })
    for (const hash of hashes.slice(0, 6)) await truncate(storage.pathOf(hash), 100)
    const refused = await storage.verify({ repair: true, stormLimit: { count: 5 } })
    expect(refused).toMatchObject({ quarantined: 0, clean: false, storm: { found: 6, limit: 5 } })
    expect(refused.storm!.cause).toMatch(/failing disk or a wrong mount/)
    expect(await storage.verify({ repair: true, stormLimit: { count: 5 }, force: true })).toMatchObject({
      quarantined: 6
    })
  })

  it('an intact frame under an upper-case name is moved into place, not quarantined', async () => {
    const { root, hashes } = await store(2)
    const storage = new FilesystemDriver({ root })
    const path = storage.pathOf(hashes[0]!)
    const upper = join(dirname(path), `${hashes[0]!.toUpperCase()}.jpg`)
    await rename(path, upper)
    const report = await storage.verify({ repair: true })
    expect(report).toMatchObject({
      clean: true,
      quarantined: 0,
      restored: 1,
      problems: [{ reason: 'misplaced', action: 'moved', movedTo: path }]
    })
    expect(await storage.exists(hashes[0]!)).toBe(true)
    await expect(stat(upper)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('finishes a move into place that a power cut stopped between its link and its unlink (crash harness)', async () => {
    // the state the crash harness's repair-misplaced workload found: the frame linked in place, its misplaced name
    // still there (the same file). The rerun left both, so every later verify reported it and none was clean
    const { root, hashes } = await store(2)
    const storage = new FilesystemDriver({ root })
    const path = storage.pathOf(hashes[0]!)
    const upper = join(dirname(path), `${hashes[0]!.toUpperCase()}.jpg`)
    await link(path, upper)
    const report = await storage.verify({ repair: true })
    expect(report).toMatchObject({ problems: [{ reason: 'misplaced', action: 'moved', movedTo: path }] })
    await expect(stat(upper)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await storage.verify()).toMatchObject({ clean: true, problems: [] })
    // another file in place (not the same one) is still left for an operator
    await writeFile(upper, await readFile(path))
    expect(await storage.verify({ repair: true })).toMatchObject({
      problems: [{ reason: 'misplaced', action: 'left' }]
    })
    expect(await readFile(upper)).toEqual(await readFile(path))
  })

  it('a misnamed file is quarantined with its original name, and restore puts it back there', async () => {
    const { root } = await store(1)
    const storage = new FilesystemDriver({ root })
    const photo = join(root, 'ab', 'cd', 'photo.jpg')
    await mkdir(dirname(photo), { recursive: true })
    await writeFile(photo, 'not a frame')
    const report = await storage.verify({ repair: true })
    expect(report).toMatchObject({ quarantined: 1, problems: [{ reason: 'misnamed', action: 'quarantined' }] })
    const entries = []
    for await (const entry of storage.quarantine.list()) entries.push(entry)
    expect(entries).toMatchObject([{ reason: 'misnamed', originalKey: 'ab/cd/photo.jpg' }])
    expect(await storage.quarantine.restore(entries[0]!.id)).toBe(true)
    expect(await readFile(photo, 'utf8')).toBe('not a frame')
  })

  it('quarantine restore refuses bytes that do not match their name, unless forced', async () => {
    const { root, hashes } = await store(1)
    const storage = new FilesystemDriver({ root })
    await truncate(storage.pathOf(hashes[0]!), 10)
    await storage.verify({ repair: true })
    const entries = []
    for await (const entry of storage.quarantine.list()) entries.push(entry)
    const [entry] = entries
    await expect(storage.quarantine.restore(entry!.id)).rejects.toMatchObject({
      code: 'ERR_INTEGRITY',
      message: expect.stringContaining('--force')
    })
    expect(await storage.exists(hashes[0]!)).toBe(false)
    expect(await storage.quarantine.restore(entry!.id, { force: true })).toBe(true)
    expect(await storage.exists(hashes[0]!)).toBe(true)
  })
})
