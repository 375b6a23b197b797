/**
 * S3Driver (index.ts): the conformance suite, the CLI over S3, against a real Ceph RADOS Gateway (or the S3
 * that SAI_TEST_S3_* names).
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { describeImageStorage, testJpeg } from '../../../src/testing/index.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { cli, damage, env, fresh, s3, sha256, useBucket, init } from './helpers.js'

useBucket()

describeImageStorage(
  { name: `S3Driver (${s3.endpoint})`, create: () => fresh(), timeout: 60_000, damage },
  { describe, it, expect }
)

describe('S3Driver (index.ts): the conformance suite, the CLI over S3', () => {
  it('sai-images migrate --from fs --to s3, killed midway, resumes; stats and back to fs', async () => {
    const root = await tempDir()
    const fs = new FilesystemDriver({ root })
    const images = Array.from({ length: 40 }, (_, i) => testJpeg(`migrate ${i} ${Date.now()}`, 30_000))
    for (const image of images) await fs.store(image)
    const prefix = `migrate-${Date.now()}/`
    const mapping = join(await tempDir(), 'map.jsonl')
    const args = [
      cli,
      'migrate',
      '--from',
      'fs',
      '--to',
      's3',
      '--root',
      root,
      '--mapping',
      mapping,
      '--json',
      '--concurrency',
      '1'
    ]
    const childEnv = { ...env, SAI_S3_PREFIX: prefix }
    // killed once a few objects are across
    const first = spawn(process.execPath, args, { env: childEnv, stdio: 'ignore' })
    const deadline = Date.now() + 30_000
    // (its first line names the stores; the records follow)
    const recorded = async (): Promise<number> =>
      (await readFile(mapping, 'utf8').catch(() => '')).split('\n').filter(line => line.includes('"hash"')).length
    while (Date.now() < deadline && (await recorded()) < 5) await new Promise(resolve => setTimeout(resolve, 20))
    first.kill('SIGKILL')
    await new Promise(resolve => first.once('close', resolve))
    const copiedBefore = await recorded()
    expect(copiedBefore).toBeGreaterThanOrEqual(5)
    expect(copiedBefore).toBeLessThan(40)

    const summary = JSON.parse(execFileSync(process.execPath, args, { env: childEnv, encoding: 'utf8' }))
    expect(summary).toMatchObject({ total: 40, failed: [] })
    expect(summary.skipped).toBeGreaterThanOrEqual(copiedBefore)
    const target = new S3Driver({ ...init, prefix })
    for (const image of images) expect(Buffer.compare(await target.fetch(sha256(image)), image)).toBe(0)
    const stats = JSON.parse(
      execFileSync(process.execPath, [cli, 'stats', '--driver', 's3', '--json'], { env: childEnv, encoding: 'utf8' })
    )
    expect(stats).toMatchObject({ objects: 40, bytes: images.reduce((sum, image) => sum + image.length, 0) })

    const back = await tempDir()
    const returned = JSON.parse(
      execFileSync(
        process.execPath,
        [
          cli,
          'migrate',
          '--from',
          's3',
          '--to',
          'fs',
          '--to-root',
          back,
          '--mapping',
          join(back, 'back.jsonl'),
          '--json'
        ],
        { env: childEnv, encoding: 'utf8' }
      )
    )
    expect(returned).toMatchObject({ total: 40, failed: [] })
    expect((await new FilesystemDriver({ root: back }).verify()).checked).toBe(40)
    // a store onto itself is refused
    expect(() =>
      execFileSync(
        process.execPath,
        [cli, 'migrate', '--from', 's3', '--to', 's3', '--mapping', join(back, 'self.jsonl')],
        { env: childEnv, stdio: 'pipe' }
      )
    ).toThrow(/the target is the source store/)
  })
})
