// verify --expect-file / --expect-sql: a store without replicas keeps no record of what it held, so a frame removed by
// hand was reported by nothing. The dashboard's table (or any list) says which frames the store must hold: each one
// it does not is "lost", exit 1, on the real filesystem and a real PostgreSQL.
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

async function store(count: number): Promise<{ root: string; hashes: string[]; storage: FilesystemDriver }> {
  const root = await tempDir('sai-expect')
  const storage = new FilesystemDriver({ root })
  const hashes: string[] = []
  for (let i = 0; i < count; i++) hashes.push((await storage.store(testJpeg(`expect ${root} ${i}`, 4000))).hash)
  return { root, hashes, storage }
}

describe('verify --expect-file / --expect-sql', () => {
  it('a frame removed by hand from a store without replicas is LOST (exit 1); every form of ref is read', async () => {
    const { root, hashes, storage } = await store(3)
    const list = join(await tempDir('sai-expect-list'), 'frames.txt')
    const [a, b, c] = hashes as [string, string, string]
    // a key as the dashboard stores it, an upper-case hash, a comment and a blank line
    await writeFile(
      list,
      `# the dashboard's frames\n${a.slice(0, 2)}/${a.slice(2, 4)}/${a}.jpg\n${b.toUpperCase()}\n\n${c}\n${c}\n`
    )
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const clean = cli(['verify', '--expect-file', list, '--json'], { env })
    expect(clean.code).toBe(0)
    expect(answer(clean)).toMatchObject({ clean: true, expected: { frames: 3, missing: 0 } })
    expect(cli(['verify', '--expect-file', list], { env }).stdout).toContain(
      'expected: 3 frames named by --expect-file/--expect-sql, every one is in the store'
    )

    await rm(storage.pathOf(b)) // by hand, or a disk's loss: nothing else knows it was there
    expect(cli(['verify'], { env }).code).toBe(0) // without the list, nothing can tell
    const run = cli(['verify', '--expect-file', list, '--json'], { env })
    expect(run.code).toBe(1)
    expect(answer(run)).toMatchObject({ clean: false, counts: { lost: 1 }, expected: { frames: 3, missing: 1 } })
    expect(answer(run).problems).toEqual([expect.objectContaining({ reason: 'lost', key: b })])
    const text = cli(['verify', '--expect-file', list], { env }).stdout
    expect(text).toContain('1 frame LOST')
    expect(text).toContain('3 frames named by --expect-file/--expect-sql, 1 not in the store (LOST)')
    // one part of the store: only the expected frames in it
    const part = Number.parseInt(b.slice(0, 4), 16) % 2
    expect(answer(cli(['verify', '--subset', `${part}/2`, '--expect-file', list, '--json'], { env }))).toMatchObject({
      expected: { missing: 1 }
    })
    expect(
      answer(cli(['verify', '--subset', `${1 - part}/2`, '--expect-file', list, '--json'], { env }))
    ).toMatchObject({ expected: { missing: 0 } })
  })

  it('a line that names no object stops it before anything is checked (exit 2, the line named)', async () => {
    const { root, hashes } = await store(1)
    const list = join(await tempDir('sai-expect-list'), 'frames.txt')
    await writeFile(list, `${hashes[0]}\n${hashes[0]!.slice(1)}\n`)
    const run = cli(['verify', '--expect-file', list], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`frames.txt:2: "${hashes[0]!.slice(1)}"`)
    expect(run.stderr).toContain('nothing was checked')
  })

  it("--expect-sql over the dashboard's table on a real PostgreSQL: a NULL stops it; the lost frame named", async () => {
    const { root, hashes, storage } = await store(3)
    await rm(storage.pathOf(hashes[2]!))
    const db = new pg.Client({ connectionString: inject('databaseUrl') })
    await db.connect()
    const table = `execution_images_${process.pid}`
    try {
      await db.query(`CREATE TABLE ${table} (execution_id int, image_hash char(64))`)
      await db.query(`INSERT INTO ${table} VALUES (1, $1), (2, $2), (3, $3), (4, NULL)`, hashes)
      const env = { SAI_IMAGE_STORAGE_PATH: root, DATABASE_URL: inject('databaseUrl') }
      const withNull = cli(['verify', '--expect-sql', `SELECT image_hash FROM ${table}`], { env })
      expect(withNull.code).toBe(2)
      expect(withNull.stderr).toContain('--expect-sql row:4: "NULL"')
      const run = cli(
        ['verify', '--expect-sql', `SELECT image_hash FROM ${table} WHERE image_hash IS NOT NULL`, '--json'],
        { env }
      )
      expect(run.code).toBe(1)
      expect(answer(run)).toMatchObject({ expected: { frames: 3, missing: 1 }, counts: { lost: 1 } })
      expect(answer(run).problems).toEqual([expect.objectContaining({ reason: 'lost', key: hashes[2] })])
    } finally {
      await db.query(`DROP TABLE IF EXISTS ${table}`)
      await db.end()
    }
  })

  it('with replicas: a frame evicted from the primary that a replica holds is not lost; one on no copy is', async () => {
    const { root, hashes, storage } = await store(2)
    const copy = await tempDir('sai-expect-copy')
    const env = { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: copy }
    expect(cli(['replicate'], { env }).code).toBe(0)
    await rm(storage.pathOf(hashes[0]!)) // its replica copy serves it (and a repair heals it)
    const list = join(await tempDir('sai-expect-list'), 'frames.txt')
    await writeFile(list, `${hashes.join('\n')}\n`)
    const run = answer(cli(['verify', '--expect-file', list, '--json'], { env }))
    expect(run.expected).toEqual({ frames: 2, missing: 0 })
    await rm(new FilesystemDriver({ root: copy }).pathOf(hashes[0]!))
    const lost = cli(['verify', '--expect-file', list, '--json'], { env })
    expect(lost.code).toBe(1)
    // the replicated verify's own count names it once: the list does not count it twice
    expect(answer(lost)).toMatchObject({ counts: { lost: 1 }, expected: { frames: 2, missing: 1 } })
  })
})
