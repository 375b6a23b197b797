import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { testJpeg } from '../../../src/testing/index.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const CLI = join(ROOT, 'dist/cli.js')
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

function cli(
  args: string[],
  env: Record<string, string> = {}
): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, DATABASE_URL: inject('databaseUrl'), ...env },
    encoding: 'utf8'
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

let db: pg.Client
let schemas = 0

/** The dashboard's execution_images, before the migration, in a schema of its own (`withPath`: its original_path). */
async function dashboardTable(ids: number[], withPath = true): Promise<string> {
  const table = `backfill_${process.pid}_${++schemas}.execution_images`
  await db.query(`CREATE SCHEMA ${table.split('.')[0]}`)
  if (!withPath) {
    await db.query(`CREATE TABLE ${table} (execution_id bigint PRIMARY KEY)`)
    await db.query(`INSERT INTO ${table} SELECT id FROM unnest($1::bigint[]) AS id`, [ids])
    return table
  }
  await db.query(
    `CREATE TABLE ${table} (execution_id bigint PRIMARY KEY, original_path text CHECK (original_path NOT LIKE '/%'))`
  )
  await db.query(
    `INSERT INTO ${table} SELECT id, 'original/' || (id / 1000) || '/' || id || '.jpg' FROM unnest($1::bigint[]) AS id`,
    [ids]
  )
  return table
}

/** The dashboard's image tree with execution 3200's frame in original/ and its overlay in processed/. */
async function twoTrees(): Promise<{ tree: string; mapping: string; frames: Record<string, Buffer> }> {
  const tree = await tempDir('sai-dashboard')
  const frames = { original: testJpeg('backfill raw 3200', 4000), processed: testJpeg('backfill overlay 3200', 4000) }
  for (const [folder, bytes] of Object.entries(frames)) {
    await mkdir(join(tree, folder, '3'), { recursive: true })
    await writeFile(join(tree, folder, '3', '3200.jpg'), bytes)
  }
  return { tree, mapping: join(await tempDir(), 'import.jsonl'), frames }
}

const hashes = async (table: string): Promise<Map<number, string | null>> =>
  new Map(
    (await db.query(`SELECT execution_id::int AS id, image_hash FROM ${table}`)).rows.map(r => [r.id, r.image_hash])
  )

beforeAll(async () => {
  db = new pg.Client({ connectionString: inject('databaseUrl') })
  await db.connect()
})
afterAll(async () => {
  await db?.end()
})

describe('sai-images backfill-hashes against a real PostgreSQL', () => {
  it(
    'migrates, fills image_hash from a real import of original/{p}/{id}.jpg, and a rerun changes ' + 'nothing',
    async () => {
      // the dashboard's tree, imported into a real store with the real command
      const tree = await tempDir('sai-dashboard')
      const files = new Map<number, Buffer>()
      for (const id of [998, 999, 1000, 1001, 2500, 2501]) {
        const bytes = testJpeg(`backfill frame ${id}`, 4000)
        await mkdir(join(tree, 'original', String(Math.floor(id / 1000))), { recursive: true })
        await writeFile(join(tree, 'original', String(Math.floor(id / 1000)), `${id}.jpg`), bytes)
        files.set(id, bytes)
      }
      const mapping = join(await tempDir(), 'import.jsonl')
      expect(cli(['import', tree, '--mapping', mapping, '--root', await tempDir()]).code).toBe(0)
      // 2501 has no row; 7 has a row and no frame
      const table = await dashboardTable([7, 998, 999, 1000, 1001, 2500])

      const first = cli([
        'backfill-hashes',
        '--mapping',
        mapping,
        '--migrate',
        '--table',
        table,
        '--batch',
        '2',
        '--json'
      ])
      expect(first.code).toBe(0)
      expect(JSON.parse(first.stdout)).toMatchObject({
        lines: 6,
        updated: 5,
        alreadySet: 0,
        conflicts: [],
        noRow: 1,
        unusable: 0,
        interrupted: false
      })
      const filled = await hashes(table)
      for (const id of [998, 999, 1000, 1001, 2500]) expect(filled.get(id)).toBe(sha256(files.get(id)!))
      expect(filled.get(7)).toBeNull()

      // the migration: a CHECK for 64 lower-case hex characters, and an index
      await expect(
        db.query(`UPDATE ${table} SET image_hash = $1 WHERE execution_id = 7`, ['F'.repeat(64)])
      ).rejects.toMatchObject({ code: '23514' })
      await expect(db.query(`UPDATE ${table} SET image_hash = 'abc' WHERE execution_id = 7`)).rejects.toMatchObject({
        code: '23514'
      })
      const [schema, name] = table.split('.')
      const indexes = await db.query('SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2', [
        schema,
        name
      ])
      expect(indexes.rows.some(r => /\(image_hash\)/.test(r.indexdef))).toBe(true)

      // a rerun, migration included, writes no row: the row versions stay the same
      const before = (await db.query(`SELECT execution_id, xmin::text FROM ${table} ORDER BY 1`)).rows
      const again = cli(['backfill-hashes', '--mapping', mapping, '--migrate', '--table', table, '--json'])
      expect(JSON.parse(again.stdout)).toMatchObject({ updated: 0, alreadySet: 5, noRow: 1 })
      expect((await db.query(`SELECT execution_id, xmin::text FROM ${table} ORDER BY 1`)).rows).toEqual(before)
    }
  )

  it(
    'without --migrate a missing column is a clear error; --dry-run writes nothing; a row with another ' +
      'hash is reported and kept',
    async () => {
      const table = await dashboardTable([1, 2, 3])
      const mapping = join(await tempDir(), 'import.jsonl')
      const line = (id: number, hash: string): string =>
        JSON.stringify({ source: `original/0/${id}.jpg`, hash, sha256: hash, key: 'x', size: 1, duplicate: false })
      await writeFile(
        mapping,
        [
          line(1, 'a'.repeat(64)),
          line(2, 'b'.repeat(64)),
          line(3, 'c'.repeat(64)),
          '{"source":"notes.txt"}',
          '{"torn'
        ].join('\n')
      )
      const missing = cli(['backfill-hashes', '--mapping', mapping, '--table', table])
      expect(missing.code).toBe(6) // ERR_CONFIG, with the way out
      expect(missing.stderr).toMatch(/image_hash.*--migrate/)
      expect(missing.stderr).not.toMatch(/\n\s+at /) // one line, no stack

      // a dry run adds no column
      expect(cli(['backfill-hashes', '--mapping', mapping, '--table', table, '--migrate', '--dry-run']).code).toBe(6)
      await db.query(`ALTER TABLE ${table} ADD COLUMN image_hash char(64)`)
      await db.query(`UPDATE ${table} SET image_hash = $1 WHERE execution_id = 2`, ['d'.repeat(64)])
      const dry = cli(['backfill-hashes', '--mapping', mapping, '--table', table, '--dry-run', '--json'])
      expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, updated: 2, unusable: 2 })
      expect([...(await hashes(table)).values()].filter(h => h !== null)).toHaveLength(1)

      const real = cli(['backfill-hashes', '--mapping', mapping, '--table', table, '--json'])
      expect(real.code).toBe(1)
      expect(JSON.parse(real.stdout)).toMatchObject({
        updated: 2,
        conflicts: [{ executionId: '2', inDatabase: 'd'.repeat(64), inMapping: 'b'.repeat(64) }]
      })
      expect((await hashes(table)).get(2)).toBe('d'.repeat(64))
    }
  )

  it('a SIGKILL mid-run leaves whole batches; the rerun finishes the rest', async () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => i + 1)
    const table = await dashboardTable(ids)
    const hashOf = (id: number): string => sha256(Buffer.from(String(id)))
    const mapping = join(await tempDir(), 'import.jsonl')
    await writeFile(
      mapping,
      ids
        .map(id => JSON.stringify({ source: `original/${Math.floor(id / 1000)}/${id}.jpg`, sha256: hashOf(id) }))
        .join('\n') + '\n'
    )
    await db.query(`ALTER TABLE ${table} ADD COLUMN image_hash char(64)`)

    const child = spawn(
      process.execPath,
      [CLI, 'backfill-hashes', '--mapping', mapping, '--table', table, '--batch', '100'],
      { env: { ...process.env, DATABASE_URL: inject('databaseUrl') } }
    )
    const exited = new Promise(resolve => child.on('exit', resolve))
    let filled = 0
    while (filled < 2000 && child.exitCode === null) {
      filled = Number((await db.query(`SELECT count(image_hash) AS n FROM ${table}`)).rows[0].n)
    }
    child.kill('SIGKILL')
    await exited
    filled = Number((await db.query(`SELECT count(image_hash) AS n FROM ${table}`)).rows[0].n)
    expect(filled).toBeGreaterThan(0)
    expect(filled % 100).toBe(0) // each batch is one transaction: none is half written

    const rerun = JSON.parse(cli(['backfill-hashes', '--mapping', mapping, '--table', table, '--json']).stdout)
    expect(rerun).toMatchObject({ updated: ids.length - filled, alreadySet: filled, noRow: 0, conflicts: [] })
    const all = await hashes(table)
    expect(ids.every(id => all.get(id) === hashOf(id))).toBe(true)
  })

  it("the whole image tree imported (original/ and processed/): each row gets its own file's hash, by original_path", async () => {
    const { tree, mapping, frames } = await twoTrees()
    expect(cli(['import', tree, '--mapping', mapping, '--root', await tempDir()]).code).toBe(0)
    const table = await dashboardTable([3200])
    for (let run = 0; run < 2; run++) {
      const result = cli(['backfill-hashes', '--mapping', mapping, '--migrate', '--table', table, '--json'])
      expect(result.code, `run ${run}`).toBe(0)
      expect(JSON.parse(result.stdout)).toMatchObject({
        otherFile: 1,
        conflicts: [],
        updated: 1 - run,
        alreadySet: run
      })
      expect((await hashes(table)).get(3200)).toBe(sha256(frames.original)) // never the processed frame's
    }
  })

  it("a mapping of processed/ sets no row (its files are no row's original_path): exit 1, saying so", async () => {
    const { tree, mapping } = await twoTrees()
    expect(cli(['import', join(tree, 'processed'), '--mapping', mapping, '--root', await tempDir()]).code).toBe(0)
    const table = await dashboardTable([3200])
    await db.query(`ALTER TABLE ${table} ADD COLUMN image_hash char(64)`) // (a dry run adds nothing)
    for (const dry of [['--dry-run'], []]) {
      const result = cli(['backfill-hashes', '--mapping', mapping, '--table', table, ...dry])
      expect(result.code).toBe(1)
      expect(result.stdout).toContain('no line names the file of its row (original_path)')
    }
    expect((await hashes(table)).get(3200)).toBe(null)
  })

  it('a mapping that cannot be read is bad input (exit 3), not a bug (70); the table is untouched', async () => {
    const table = await dashboardTable([3200])
    await db.query(`ALTER TABLE ${table} ADD COLUMN image_hash char(64)`)
    const missing = join(await tempDir(), 'no-such.jsonl')
    const result = cli(['backfill-hashes', '--mapping', missing, '--table', table, '--json'])
    expect(result.code).toBe(3)
    expect(JSON.parse(result.stdout).error).toMatchObject({
      code: 'ERR_INVALID_INPUT',
      message: expect.stringContaining(`Cannot read the mapping ${missing}`)
    })
    expect((await hashes(table)).get(3200)).toBe(null)
  })

  it('a table without original_path: two files for one execution are a conflict, in a dry run too', async () => {
    const { tree, mapping, frames } = await twoTrees()
    expect(cli(['import', tree, '--mapping', mapping, '--root', await tempDir()]).code).toBe(0)
    const table = await dashboardTable([3200], false)
    await db.query(`ALTER TABLE ${table} ADD COLUMN image_hash char(64)`) // (a dry run adds nothing)
    for (const dry of [['--dry-run'], [], []]) {
      const result = cli(['backfill-hashes', '--mapping', mapping, '--table', table, '--json', ...dry])
      expect(result.code, dry.join(' ')).toBe(1)
      const { conflicts } = JSON.parse(result.stdout)
      expect(conflicts).toHaveLength(1)
      expect([conflicts[0].inDatabase, conflicts[0].inMapping].sort()).toEqual(
        [sha256(frames.original), sha256(frames.processed)].sort()
      )
    }
  })

  it('a row another writer fills while the back-fill waits for it is a conflict, not counted as set', async () => {
    const { tree, mapping } = await twoTrees()
    expect(cli(['import', join(tree, 'original'), '--mapping', mapping, '--root', await tempDir()]).code).toBe(0)
    const table = await dashboardTable([3200])
    await db.query(`ALTER TABLE ${table} ADD COLUMN image_hash char(64)`)
    const other = new pg.Client({ connectionString: inject('databaseUrl') })
    await other.connect()
    try {
      await other.query('BEGIN')
      await other.query(`UPDATE ${table} SET image_hash = $1 WHERE execution_id = 3200`, ['f'.repeat(64)])
      const args = ['backfill-hashes', '--mapping', mapping, '--table', table, '--json']
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...process.env, DATABASE_URL: inject('databaseUrl') }
      })
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      const exited = new Promise<number | null>(resolve => child.on('close', resolve))
      await new Promise(resolve => setTimeout(resolve, 1500)) // it waits for the row
      await other.query('COMMIT')
      expect(await exited).toBe(1)
      expect(JSON.parse(out)).toMatchObject({
        updated: 0,
        conflicts: [expect.objectContaining({ executionId: '3200' })]
      })
    } finally {
      await other.end()
    }
    expect((await hashes(table)).get(3200)).toBe('f'.repeat(64))
  })
})
