import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../drivers/fs/index.js'
import { ROOT } from './helpers/consumer.js'
import { tempDir } from './helpers/tmp.js'

const run = (script: string, root: string): string =>
  execFileSync(process.execPath, [join(ROOT, 'examples', script)], { env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root }, encoding: 'utf8', cwd: ROOT })

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

  it('inference-wrapper: multipart, base64 and data URL give the same stored frame; non-images get 400', async () => {
    const root = await tempDir()
    const lines = run('inference-wrapper/server.mjs', root).trim().split('\n')
    const answers = Object.fromEntries(lines.map(line => {
      const [, name, status, body] = /^(.+?): (\d+) (.*)$/.exec(line)!
      return [name, { status: Number(status), ...JSON.parse(body!) }]
    }))
    const storage = new FilesystemDriver({ root })
    for (const name of ['multipart', 'base64', 'data URL']) {
      expect(answers[name]).toMatchObject({ status: 200, model: 'stand-in', image_hash: answers.multipart.image_hash, image_path: storage.pathOf(answers.multipart.image_hash) })
    }
    expect(answers['not an image']).toMatchObject({ status: 400, error: 'ERR_INVALID_INPUT' })
    const stored = await storage.fetch(answers.multipart.image_hash)
    expect(stored.length).toBe(answers.multipart.bytes) // the model got exactly the stored bytes
  }, 60_000)

  it('dashboard-etl (CommonJS) prints execution_images rows with relative keys when DATABASE_URL is unset', async () => {
    const root = await tempDir()
    const rows = run('dashboard-etl/etl.cjs', root).trim().split('\n').map(line => JSON.parse(line))
    expect(rows.map(r => r.execution_id)).toEqual([1, 2, 3])
    const storage = new FilesystemDriver({ root })
    for (const row of rows) {
      expect(row.image_path).toBe(storage.keyOf(row.image_hash))
      expect(row.image_path.startsWith('/')).toBe(false)
      expect((await storage.fetch(row.image_hash)).length).toBe(row.size)
    }
  })
})
