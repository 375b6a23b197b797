import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'

const run = (script: string, root: string, env: Record<string, string> = {}): string =>
  execFileSync(process.execPath, [join(ROOT, 'examples', script)], {
    env: { ...process.env, DATABASE_URL: '', SAI_IMAGE_STORAGE_PATH: root, ...env },
    encoding: 'utf8',
    cwd: ROOT
  })

/** A database of its own on the test PostgreSQL, so that each test starts from no tables. */
async function freshDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: inject('databaseUrl') })
  await admin.connect()
  const db = `${name}_${process.pid}_${Date.now()}`
  try {
    await admin.query(`CREATE DATABASE ${db}`)
  } finally {
    await admin.end()
  }
  const url = new URL(inject('databaseUrl'))
  url.pathname = `/${db}`
  return url.toString()
}

describe('the examples run against the real filesystem driver', () => {
  it('quickstart (npm run demo) stores real frames, fetches them back, and deduplicates on a second run', async () => {
    const root = await tempDir()
    const first = run('quickstart.mjs', root)
    expect(first.match(/duplicate {2}false/g)).toHaveLength(3)
    expect(first.match(/identical, verified against the hash/g)).toHaveLength(4)
    expect(first).toContain('The store now holds 3 objects')
    const second = run('quickstart.mjs', root)
    expect(second.match(/duplicate {2}true/g)).toHaveLength(4)
    expect((await new FilesystemDriver({ root }).verify()).problems).toEqual([])
  }, 60_000)

  it('inference-wrapper: multipart, base64 and data URL give the same stored frame; non-images, paths and bad JSON get 400', async () => {
    const root = await tempDir()
    const lines = run('inference-wrapper/server.mjs', root).trim().split('\n')
    const answers = Object.fromEntries(
      lines.map(line => {
        const [, name, status, body] = /^(.+?): (\d+) (.*)$/.exec(line)!
        return [name, { status: Number(status), ...JSON.parse(body!) }]
      })
    )
    const storage = new FilesystemDriver({ root })
    for (const name of ['multipart', 'base64', 'data URL']) {
      expect(answers[name]).toMatchObject({
        status: 200,
        model: 'stand-in',
        image_hash: answers.multipart.image_hash,
        image_path: storage.pathOf(answers.multipart.image_hash)
      })
    }
    expect(answers['not an image']).toMatchObject({
      status: 400,
      error: 'ERR_INVALID_INPUT',
      message: expect.stringMatching(/^not an image: send a JPEG/)
    })
    // the client is told what was wrong with its request, never the server's settings (issue 34)
    expect(JSON.stringify(answers['not an image'])).not.toMatch(/SAI_|allowNonImage|option/)
    // a JSON object is never taken for { path }: the server's own files are not read
    for (const name of ['a path instead of an image', 'malformed JSON'])
      expect(answers[name]).toEqual({ status: 400, error: expect.stringMatching(/^send the image as multipart/) })
    const stored = await storage.fetch(answers.multipart.image_hash)
    expect(stored.length).toBe(answers.multipart.bytes) // the model got exactly the stored bytes
  }, 60_000)

  it('dashboard-etl (CommonJS) prints execution_images rows with relative keys when DATABASE_URL is unset', async () => {
    const root = await tempDir()
    const rows = run('dashboard-etl/etl.cjs', root)
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
    expect(rows.map(r => r.execution_id)).toEqual([1, 2, 3])
    const storage = new FilesystemDriver({ root })
    for (const row of rows) {
      expect(row.image_path).toBe(storage.keyOf(row.image_hash))
      expect(row.image_path.startsWith('/')).toBe(false)
      expect((await storage.fetch(row.image_hash)).length).toBe(row.size)
    }
  })

  it('dashboard-etl writes execution_images rows with the SHA-256 and the relative key into a real PostgreSQL, and a rerun changes nothing', async () => {
    const root = await tempDir()
    const url = await freshDatabase('etl')
    run('dashboard-etl/etl.cjs', root, { DATABASE_URL: url })
    run('dashboard-etl/etl.cjs', root, { DATABASE_URL: url }) // sent again: the same three rows
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const { rows } = await client.query(
        'SELECT execution_id::int AS id, original_path, image_hash, size_bytes FROM execution_images ORDER BY execution_id'
      )
      expect(rows.map(r => r.id)).toEqual([1, 2, 3])
      const storage = new FilesystemDriver({ root })
      for (const row of rows) {
        expect(row.image_hash).toMatch(/^[0-9a-f]{64}$/)
        expect(row.original_path).toBe(storage.keyOf(row.image_hash))
        expect((await storage.fetch(row.image_hash)).length).toBe(row.size_bytes)
      }
      // the table's own checks: no absolute paths, no hash that is not 64 lower-case hex
      await expect(
        client.query("INSERT INTO execution_images VALUES (9, '/abs/x.jpg', NULL, 1, 'image/jpeg')")
      ).rejects.toMatchObject({ code: '23514' })
      await expect(
        client.query(`INSERT INTO execution_images VALUES (9, 'ab/x.jpg', '${'A'.repeat(64)}', 1, 'image/jpeg')`)
      ).rejects.toMatchObject({ code: '23514' })
    } finally {
      await client.end()
    }
  })
})
