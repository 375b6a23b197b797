import { spawn, spawnSync } from 'node:child_process'
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { MemoryDriver } from '../../../src/drivers/memory/index.js'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { RefSet } from '../../../src/features/retention/keep.js'
import { prune } from '../../../src/features/retention/prune.js'
import { createVariants } from '../../../src/features/variants/index.js'
import { sha256ToCid } from '../../../src/core/ref.js'
import { testJpeg } from '../../../src/testing/index.js'
import { startChild } from '../../infra/helpers/child.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const CLI = join(ROOT, 'dist/cli.js')
const DAY = 24 * 3600 * 1000

/** Stores `count` images and dates each `daysAgo(i)` days back, as if last stored then. */
async function agedStore(
  count: number,
  daysAgo: (i: number) => number,
  size = 3000,
  label = 'aged'
): Promise<{ storage: FilesystemDriver; root: string; hashes: string[] }> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const hashes: string[] = []
  for (let i = 0; i < count; i++) {
    const { hash, path } = await storage.store(testJpeg(`${label} ${i} ${root}`, size))
    const when = new Date(Date.now() - daysAgo(i) * DAY)
    await utimes(path, when, when)
    hashes.push(hash)
  }
  return { storage, root, hashes }
}

const present = async (storage: FilesystemDriver, hashes: string[]): Promise<boolean[]> =>
  await Promise.all(hashes.map(async h => await storage.exists(h)))

describe('prune on the filesystem driver', () => {
  it(
    'deletes by age, keeps protected ones, and a duplicate store makes an object young again (storedAt ' +
      'stays the first store)',
    async () => {
      const { storage, root, hashes } = await agedStore(6, i => [200, 150, 120, 100, 10, 1][i]!)
      const first = await storage.stat(hashes[1]!)
      const again = await storage.store(testJpeg(`aged 1 ${root}`, 3000)) // stored again today
      expect(again.isDuplicate).toBe(true)
      const renewed = await storage.stat(hashes[1]!)
      expect(Date.now() - renewed.lastStoredAt!.getTime()).toBeLessThan(60_000)
      expect(renewed.storedAt).toEqual(first.storedAt) // the first store, not the last
      const report = await prune(storage, { olderThan: 90 * DAY, keep: [hashes[2]!.toUpperCase()] })
      expect(report).toMatchObject({
        examined: 6,
        deleted: 2,
        chosenByAge: 2,
        chosenByBudget: 0,
        protected: 1,
        kept: 2,
        recent: 1,
        renewed: 0,
        bytesFreed: 6000,
        dryRun: false
      })
      expect(await present(storage, hashes)).toEqual([false, true, true, false, true, true])
      expect((await storage.verify()).clean).toBe(true)
    }
  )

  it('keep: a single string is one ref (not its characters), a raw CIDv1 the frame of its SHA-256', async () => {
    const { storage, hashes } = await agedStore(3, () => 200)
    const report = await prune(storage, { olderThan: 90 * DAY, keep: hashes[0]!, dryRun: true })
    expect(report).toMatchObject({ protected: 1, wouldDelete: 2 })
    const byCid = await prune(storage, { olderThan: 90 * DAY, keep: [sha256ToCid(hashes[1]!)] })
    expect(byCid).toMatchObject({ protected: 1, deleted: 2 })
    expect(await present(storage, hashes)).toEqual([false, true, false])
  })

  it('a keep list spells any CID as IPFS lists it: a CIDv0 (Qm…) protects the object listed as its CIDv1', () => {
    const digest = createDigest(0x12, Buffer.alloc(32, 7)) // sha2-256 of a dag-pb node
    const v0 = CID.createV0(digest)
    const set = new RefSet()
    set.add(v0.toString())
    expect(v0.toString()).toMatch(/^Qm/)
    expect(set.has(v0.toV1().toString(base32))).toBe(true)
    expect(
      set.has(
        CID.createV0(createDigest(0x12, Buffer.alloc(32, 8)))
          .toV1()
          .toString(base32)
      )
    ).toBe(false)
  })

  it('a byte budget deletes the oldest first until it is met; protected objects can leave it unmet', async () => {
    const { storage, hashes } = await agedStore(10, i => 100 - i) // 0 is the oldest
    const report = await prune(storage, { budgetBytes: 4 * 3000 })
    expect(report).toMatchObject({ deleted: 6, remainingBytes: 12_000, overBudget: false })
    expect(await present(storage, hashes)).toEqual([false, false, false, false, false, false, true, true, true, true])
    const tight = await prune(storage, { budgetBytes: 0, keep: o => o.sha256 === hashes[9] })
    expect(tight).toMatchObject({ deleted: 3, protected: 1, overBudget: true, remainingBytes: 3000 })
  })

  it('a dry run deletes nothing and says what would go; the variants of pruned objects go with them', async () => {
    const { storage, root, hashes } = await agedStore(3, i => [400, 300, 5][i]!, 3000, 'variants')
    const variants = createVariants(storage)
    for (const hash of hashes) await variants.get(hash, 'thumb')
    const candidates: string[] = []
    const dry = await prune(storage, {
      olderThan: 30 * DAY,
      dryRun: true,
      variants,
      onCandidate: c => {
        candidates.push(c.sha256!)
      }
    })
    expect(dry).toMatchObject({
      deleted: 0,
      bytesFreed: 0,
      wouldDelete: 2,
      wouldFree: 6000,
      chosenByAge: 2,
      dryRun: true
    })
    expect(candidates.sort()).toEqual([hashes[0], hashes[1]].sort())
    expect(await present(storage, hashes)).toEqual([true, true, true])
    const list = join(await tempDir(), 'candidates.txt')
    const cli = spawnSync(process.execPath, [CLI, 'prune', '--older-than', '30d', '--dry-run', '--list', list], {
      env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root },
      encoding: 'utf8'
    })
    expect(cli.status).toBe(0)
    expect(cli.stdout).toContain('would delete 2 objects of 3 (2 by age, last stored ')
    expect(cli.stdout).toContain('freeing 5.9 KiB; nothing was deleted')
    expect(
      (await readFile(list, 'utf8'))
        .trim()
        .split('\n')
        .map(line => line.split(' ')[0])
        .sort()
    ).toEqual([hashes[0], hashes[1]].sort())
    const real = spawnSync(process.execPath, [CLI, 'prune', '--older-than', '30d', '--json'], {
      env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root },
      encoding: 'utf8'
    })
    expect(JSON.parse(real.stdout)).toMatchObject({ deleted: 2, variantsRemoved: 2 })
    expect(await present(storage, hashes)).toEqual([false, false, true])
    expect((await variants.verify()).problems).toEqual([]) // no orphaned variant left behind
    expect((await variants.get(hashes[2]!, 'thumb')).cached).toBe(true)
  })

  it(
    '--keep-file and --keep-sql (a real PostgreSQL) protect frames; stats shows objects by month of the ' +
      'last store',
    async () => {
      const { root, hashes } = await agedStore(4, () => 365)
      const keepFile = join(await tempDir(), 'keep.txt')
      await writeFile(keepFile, `# frames in training datasets\n${hashes[0]}\n`)
      const db = new pg.Client({ connectionString: inject('databaseUrl') })
      await db.connect()
      const table = `detections_${process.pid}`
      try {
        await db.query(`CREATE TABLE ${table} (image_hash char(64), has_fire boolean)`)
        await db.query(`INSERT INTO ${table} VALUES ($1, true), ($2, false)`, [hashes[1], hashes[2]])
        const env = { ...process.env, SAI_IMAGE_STORAGE_PATH: root, DATABASE_URL: inject('databaseUrl') }
        const stats = JSON.parse(
          spawnSync(process.execPath, [CLI, 'stats', '--json'], { env, encoding: 'utf8' }).stdout
        )
        const month = new Date(Date.now() - 365 * DAY).toISOString().slice(0, 7)
        expect(stats.byMonth).toEqual({ [month]: { objects: 4, bytes: 12_000 } })
        const result = spawnSync(
          process.execPath,
          [
            CLI,
            'prune',
            '--older-than',
            '90d',
            '--keep-file',
            keepFile,
            '--keep-sql',
            `SELECT image_hash FROM ${table} WHERE has_fire`,
            '--json'
          ],
          { env, encoding: 'utf8' }
        )
        expect(result.status).toBe(0)
        expect(JSON.parse(result.stdout)).toMatchObject({ deleted: 2, protected: 2 })
        const storage = new FilesystemDriver({ root })
        expect(await present(storage, hashes)).toEqual([true, true, false, false])
        const bad = spawnSync(
          process.execPath,
          [CLI, 'prune', '--older-than', '90d', '--keep-sql', 'SELECT nope FROM nowhere'],
          { env, encoding: 'utf8' }
        )
        expect(bad.status).toBe(6)
        expect(bad.stderr).toContain('--keep-sql')
      } finally {
        await db.query(`DROP TABLE IF EXISTS ${table}`)
        await db.end()
      }
    }
  )

  it(
    '--keep-sql reads its values as a keep file: the key column protects its frames, and a NULL or an id ' +
      'stops the prune before it deletes anything (it used to protect nothing, silently)',
    async () => {
      const { root, hashes } = await agedStore(4, () => 365, 3000, 'sql')
      const db = new pg.Client({ connectionString: inject('databaseUrl') })
      await db.connect()
      const table = `execution_images_${process.pid}`
      const env = { ...process.env, SAI_IMAGE_STORAGE_PATH: root, DATABASE_URL: inject('databaseUrl') }
      const run = (query: string, ...more: string[]): ReturnType<typeof spawnSync> =>
        spawnSync(process.execPath, [CLI, 'prune', '--older-than', '90d', '--keep-sql', query, ...more, '--json'], {
          env,
          encoding: 'utf8'
        })
      try {
        // the README's dashboard ETL keeps the key in original_path
        await db.query(
          `CREATE TABLE ${table} (execution_id int, original_path text, image_hash char(64), has_detections bool)`
        )
        const key = (h: string): string => `${h.slice(0, 2)}/${h.slice(2, 4)}/${h}.jpg`
        await db.query(`INSERT INTO ${table} VALUES (1, $1, $2, true), (2, $3, NULL, true), (3, $4, $5, false)`, [
          key(hashes[0]!),
          hashes[0],
          key(hashes[1]!),
          key(hashes[2]!),
          hashes[2]
        ])
        for (const query of [
          `SELECT image_hash FROM ${table} WHERE has_detections`, // row 2 has no hash yet
          `SELECT execution_id FROM ${table} WHERE has_detections`
        ]) {
          const refused = run(query)
          expect(refused.status, query).toBe(2)
          expect(JSON.parse(String(refused.stdout)).error.message).toContain('nothing was deleted')
          expect(await present(new FilesystemDriver({ root }), hashes)).toEqual([true, true, true, true])
        }
        expect(
          JSON.parse(String(run(`SELECT image_hash FROM ${table} WHERE has_detections`).stdout)).error.message
        ).toContain('--keep-sql row:2: "NULL"')
        const keys = run(`SELECT original_path FROM ${table} WHERE has_detections`, '--dry-run')
        expect(keys.status).toBe(0)
        expect(JSON.parse(String(keys.stdout))).toMatchObject({ protected: 2, wouldDelete: 2 })
        // no row at all (the wrong database, one just restored): it would protect nothing
        const none = run(`SELECT image_hash FROM ${table} WHERE false`)
        expect(none.status).toBe(2)
        expect(JSON.parse(String(none.stdout)).error.message).toContain('--allow-empty-keep')
        const allowed = run(`SELECT image_hash FROM ${table} WHERE false`, '--allow-empty-keep', '--dry-run')
        expect(JSON.parse(String(allowed.stdout))).toMatchObject({ protected: 0, wouldDelete: 4 })
        const lenient = run(`SELECT image_hash FROM ${table} WHERE has_detections`, '--keep-file-lenient')
        expect(lenient.status).toBe(0)
        expect(JSON.parse(String(lenient.stdout))).toMatchObject({
          deleted: 3,
          protected: 1,
          keepFileSkipped: expect.stringContaining('1 line skipped')
        })
        expect(await present(new FilesystemDriver({ root }), hashes)).toEqual([true, false, false, false])
      } finally {
        await db.query(`DROP TABLE IF EXISTS ${table}`)
        await db.end()
      }
    }
  )

  it(
    'processes storing again while a prune runs: no store that resolves during the prune loses its ' +
      'object (many rounds)',
    async () => {
      for (let round = 0; round < 8; round++) {
        const seeds = Array.from({ length: 40 }, (_, i) => `race ${round} ${i}`)
        const root = await tempDir()
        const storage = new FilesystemDriver({ root })
        const hashes = []
        for (const seed of seeds) {
          const { hash, path } = await storage.store(testJpeg(seed, 2000))
          await utimes(path, new Date(2020, 0, 1), new Date(2020, 0, 1))
          hashes.push(hash)
        }
        const startAt = Date.now() + 700
        const children = [0, 1, 2].map(i =>
          startChild('restore', {
            root,
            seeds: seeds.filter((_, j) => j % 3 === i || j % 2 === 0),
            size: 2000,
            startAt,
            until: startAt + 250
          })
        )
        await new Promise(resolve => setTimeout(resolve, Math.max(0, startAt - Date.now() + ((20 * round) % 100))))
        const pruneStarted = Date.now()
        const pruned = spawnSync(process.execPath, [CLI, 'prune', '--older-than', '1d', '--json'], {
          env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root },
          encoding: 'utf8'
        })
        expect(pruned.status).toBe(0)
        expect(await Promise.all(children.map(async c => await c.done))).toEqual([0, 0, 0])
        const stored = new Set(
          children
            .flatMap(c => c.lines())
            .filter(l => l.resolvedAt >= pruneStarted)
            .map(l => l.sha256)
        )
        for (const hash of stored)
          expect({ round, hash, present: await storage.exists(hash) }).toEqual({ round, hash, present: true })
        const report = JSON.parse(pruned.stdout)
        expect(report.deleted + report.renewed).toBeLessThanOrEqual(40)
        expect((await storage.verify({ tempMinAgeMs: 0 })).problems).toEqual([])
      }
    }
  )

  it(
    'a SIGKILL at any moment of a prune leaves every object present, deleted, or set aside where verify ' +
      '--repair puts it back',
    async () => {
      for (const killAfterMs of [60, 150, 300]) {
        const { storage, root, hashes } = await agedStore(300, () => 365, 1000, `kill ${killAfterMs}`)
        const child = spawn(process.execPath, [CLI, 'prune', '--older-than', '90d', '--concurrency', '8'], {
          env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root },
          stdio: 'ignore'
        })
        const exited = new Promise(resolve => child.on('exit', resolve))
        await new Promise(resolve => setTimeout(resolve, killAfterMs))
        child.kill('SIGKILL')
        await exited
        const aside = await readdir(join(root, '.pruning')).catch(() => [])
        const before = (await present(storage, hashes)).filter(Boolean).length
        const report = await storage.verify({ repair: true, tempMinAgeMs: 0 })
        expect(report.problems.filter(p => p.reason !== 'set-aside')).toEqual([])
        expect(report.problems).toHaveLength(aside.length)
        const after = (await present(storage, hashes)).filter(Boolean).length
        expect(after).toBe(before + aside.length) // each set-aside object is back
        expect(await readdir(join(root, '.pruning')).catch(() => [])).toEqual([])
        // whole, verified
        for (const hash of hashes) if (await storage.exists(hash)) expect((await storage.fetch(hash)).length).toBe(1000)
      }
    }
  )
})

describe('prune on other drivers', () => {
  it('a budget whose cut falls among 60,000 objects of the same hour: cut finer in its spill file, the ' +
    'oldest taken, in one walk', async () => {
    const storage = new MemoryDriver()
    for (let i = 0; i < 60_000; i++) await storage.store(testJpeg(`same hour ${i}`, 700))
    const entries: Array<{ hash: string; size: number; time: number }> = []
    for await (const e of storage.list()) entries.push({ hash: e.hash, size: e.size!, time: e.lastStoredAt!.getTime() })
    const total = entries.reduce((sum, e) => sum + e.size, 0)
    const budgetBytes = Math.floor(total * 0.4)
    const chosen: string[] = []
    const report = await prune(storage, {
      budgetBytes,
      dryRun: true,
      minAgeMs: 0,
      onCandidate: c => {
        chosen.push(c.hash)
      }
    })
    // the oldest first (by time, then hash), until the budget is met and not one more
    entries.sort((a, b) => a.time - b.time || (a.hash < b.hash ? -1 : 1))
    const expected: string[] = []
    for (let freed = 0, i = 0; freed < total - budgetBytes; i++) {
      expected.push(entries[i]!.hash)
      freed += entries[i]!.size
    }
    expect(report).toMatchObject({
      examined: 60_000,
      passes: 1,
      chosenByBudget: expected.length,
      kept: 60_000 - expected.length,
      overBudget: false
    })
    expect(chosen.sort()).toEqual(expected.sort())
    expect(report.remainingBytes).toBeLessThanOrEqual(budgetBytes)
  }, 120_000)

  it('memory: by age, renewed by a duplicate store', async () => {
    const storage = new MemoryDriver()
    const old = await storage.store(testJpeg('memory old'))
    const young = await storage.store(testJpeg('memory young'))
    const later = new Date(Date.now() + 10 * DAY)
    expect(await prune(storage, { olderThan: 5 * DAY, now: later, dryRun: true, minAgeMs: 0 })).toMatchObject({
      deleted: 0,
      wouldDelete: 2
    })
    await new Promise(resolve => setTimeout(resolve, 5))
    await storage.store(testJpeg('memory young')) // renewed
    const report = await prune(storage, { olderThan: 10 * DAY - 2, now: later, minAgeMs: 0 })
    expect(report).toMatchObject({ deleted: 1, kept: 1 })
    // without minAgeMs, objects stored in the last minute stay whatever the limits
    expect(await prune(storage, { olderThan: 0, budgetBytes: 0, dryRun: true })).toMatchObject({
      wouldDelete: 0,
      recent: 1
    })
    expect([await storage.exists(old.hash), await storage.exists(young.hash)]).toEqual([false, true])
  })
  it('a listing waiting for its next page is cut short by the signal: the prune ends, interrupted', async () => {
    const storage = new MemoryDriver()
    const old = await storage.store(testJpeg('signal old'))
    // a listing whose second page never comes unless its signal aborts it (a slow S3 ListObjects, say)
    const stalled = Object.create(storage) as MemoryDriver
    stalled.list = async function* (options) {
      yield* storage.list(options)
      const signal = options?.signal
      await new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }))
    }
    const controller = new AbortController()
    const report = prune(stalled, {
      olderThan: 0,
      minAgeMs: 0,
      now: new Date(Date.now() + DAY),
      signal: controller.signal,
      onProgress: p => {
        if (p.phase === 'scan') setTimeout(() => controller.abort(), 50)
      }
    })
    expect(await report).toMatchObject({ examined: 1, deleted: 1, interrupted: true })
    expect(await storage.exists(old.hash)).toBe(false)
  })

  it("a budget under StoreOptions' name (maxBytes) is refused, naming the option to use", async () => {
    const storage = new MemoryDriver()
    await expect(prune(storage, { olderThan: DAY, maxBytes: 10 } as never)).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('budgetBytes')
    })
  })
})
