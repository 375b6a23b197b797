// Incremental jobs: `import` and `migrate` rerun over a growing source copy everything not yet
// copied, wherever its name sorts (folders sort as text: 100/ before 20/ before 3/), never append a
// duplicate mapping line, report a failed file once per run, and `migrate` keeps each frame's times.
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { MemoryDriver } from '../../../src/drivers/memory/index.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { migrate } from '../../../src/features/jobs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { answer, cli } from '../../cli/run.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const DAY = 86_400_000
/** A job file's lines, less a mapping's own line, which names its stores (test/cli/mapping-stores.test.ts). */
const records = async (path: string): Promise<any[]> =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line))
    .filter(line => line.mapping === undefined)

async function addFrames(dir: string, paths: string[]): Promise<void> {
  for (const path of paths) {
    await mkdir(join(dir, path, '..'), { recursive: true })
    await writeFile(join(dir, path), testJpeg(`incremental ${dir} ${path}`, 2000))
  }
}

describe('import over a growing tree', () => {
  it(
    'stores the files added between runs in 3/, 20/ and 100/, wherever they sort, with no duplicate ' + 'line',
    async () => {
      const dir = await tempDir('sai-original')
      const env = { SAI_IMAGE_STORAGE_PATH: await tempDir() }
      const mapping = join(await tempDir(), 'import.jsonl')
      const run = (): any =>
        answer(cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--concurrency', '2', '--json'], { env }))
      await addFrames(dir, ['3/3000.jpg', '20/20000.jpg', '100/100000.jpg'])
      expect(run()).toMatchObject({ total: 3, done: 3, skipped: 0, failed: [] })
      // 100/ sorts first and 3/ last: new files before, between and after what was imported
      await addFrames(dir, ['100/100001.jpg', '20/20001.jpg', '3/3001.jpg', '1000/1000000.jpg', '4/4000.jpg'])
      expect(run()).toMatchObject({ total: 8, done: 5, skipped: 3, failed: [] })
      expect(run()).toMatchObject({ total: 8, done: 0, skipped: 8, failed: [] })
      await addFrames(dir, ['100/100002.jpg'])
      expect(run()).toMatchObject({ total: 9, done: 1, skipped: 8 })
      const lines = await records(mapping)
      expect(lines.map(l => l.source).sort()).toEqual([
        '100/100000.jpg',
        '100/100001.jpg',
        '100/100002.jpg',
        '1000/1000000.jpg',
        '20/20000.jpg',
        '20/20001.jpg',
        '3/3000.jpg',
        '3/3001.jpg',
        '4/4000.jpg'
      ])
      const storage = new FilesystemDriver({ root: env.SAI_IMAGE_STORAGE_PATH })
      for (const line of lines) {
        expect(typeof line.hash).toBe('string')
        expect((await storage.fetch(line.hash)).equals(await readFile(join(dir, line.source)))).toBe(true)
      }
    }
  )

  it(
    'a failed file is reported once per run, never recorded, and does not make reruns re-import the ' +
      'files after it',
    async () => {
      const dir = await tempDir('sai-original')
      await writeFile(join(dir, 'empty.jpg'), '')
      await writeFile(join(dir, 'notes.txt'), 'a note')
      await writeFile(join(dir, 'zz.jpg'), testJpeg(`incremental zz ${dir}`))
      const env = { SAI_IMAGE_STORAGE_PATH: await tempDir() }
      const mapping = join(await tempDir(), 'import.jsonl')
      const sizes = []
      for (let i = 0; i < 4; i++) {
        const run = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json'], { env })
        expect(run.code).toBe(1)
        const summary = answer(run)
        expect(summary.failed.map((f: { item: string }) => f.item)).toEqual(['empty.jpg'])
        // done counts the files this run finished, those recorded as not images included
        expect(summary).toMatchObject(
          i === 0
            ? { total: 3, done: 2, skipped: 0, notImages: ['notes.txt'] }
            : { total: 3, done: 0, skipped: 2, notImages: [] }
        )
        expect(summary.total).toBe(summary.done + summary.skipped + summary.failed.length)
        sizes.push((await records(mapping)).length)
      }
      expect(sizes).toEqual([1, 1, 1, 1])
      expect((await records(mapping))[0]).toMatchObject({
        source: 'zz.jpg',
        hash: expect.stringMatching(/^[0-9a-f]{64}$/)
      })
      expect(await records(`${mapping}.not-images.jsonl`)).toEqual([{ source: 'notes.txt', notImage: true }])
      const text = cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { env }).stdout
      expect(text).toMatch(/import complete: 0 done, 2 already done earlier, 1 failed, of 3/)
    }
  )

  it(
    'reads a mapping of an earlier release: its checkpoint hides nothing, its notImage and failed lines ' +
      'are no records',
    async () => {
      const dir = await tempDir('sai-original')
      await addFrames(dir, ['2/2000.jpg', '10/10000.jpg'])
      await writeFile(join(dir, 'notes.txt'), 'a note')
      const env = { SAI_IMAGE_STORAGE_PATH: await tempDir() }
      const mapping = join(await tempDir(), 'import.jsonl')
      const hash = answer(cli(['store', join(dir, '2/2000.jpg'), '--json'], { env })).hash
      await writeFile(
        mapping,
        [
          { source: '2/2000.jpg', hash, sha256: hash, key: 'x', size: 1, duplicate: false, cursor: '2/2000.jpg' },
          { source: 'notes.txt', notImage: true, cursor: 'notes.txt' },
          { checkpoint: 'notes.txt' }
        ]
          .map(line => JSON.stringify(line) + '\n')
          .join('')
      )
      // 10/ sorts before the checkpoint's 2/2000.jpg: an earlier release passed over it for good
      expect(answer(cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json'], { env }))).toMatchObject({
        total: 3,
        done: 1,
        skipped: 2,
        failed: []
      })
      expect((await records(mapping)).filter(l => l.source === '10/10000.jpg')).toHaveLength(1)
    }
  )
})

/** `count` frames in a fs store, first stored 200 days ago and last stored 100 days ago. */
async function agedFrames(root: string, count: number, seed: string): Promise<string[]> {
  const storage = new FilesystemDriver({ root })
  const hashes = []
  for (let i = 0; i < count; i++) {
    const { hash, path } = await storage.store(testJpeg(`migrate ${seed} ${i}`, 2500))
    const when = new Date(Date.now() - 100 * DAY)
    await utimes(path, when, when)
    hashes.push(hash)
  }
  return hashes
}

describe('migrate from cron', () => {
  it(
    'fs -> fs: each rerun copies the frames stored since, keeps their last store time, and appends no ' + 'duplicate',
    async () => {
      const root = await tempDir()
      const target = await tempDir()
      const mapping = join(await tempDir(), 'm.jsonl')
      const env = { SAI_IMAGE_STORAGE_PATH: root }
      const run = (): any =>
        answer(
          cli(['migrate', '--from', 'fs', '--to', 'fs', '--to-root', target, '--mapping', mapping, '--json'], { env })
        )
      const first = await agedFrames(root, 5, `fs ${root} a`)
      expect(run()).toMatchObject({ total: 5, done: 5, skipped: 0 })
      const added = await agedFrames(root, 4, `fs ${root} b`)
      expect(
        answer(
          cli(
            ['migrate', '--from', 'fs', '--to', 'fs', '--to-root', target, '--mapping', mapping, '--dry-run', '--json'],
            { env }
          )
        )
      ).toMatchObject({ wouldCopy: 4, alreadyCopied: 5 })
      expect(run()).toMatchObject({ total: 9, done: 4, skipped: 5 })
      expect(run()).toMatchObject({ total: 9, done: 0, skipped: 9 })
      const lines = await records(mapping)
      expect(lines.map(l => l.source).sort()).toEqual([...first, ...added].sort())
      const copy = new FilesystemDriver({ root: target })
      for (const hash of [...first, ...added]) {
        const stat = await copy.stat(hash)
        expect(Math.abs(stat.lastStoredAt!.getTime() - (Date.now() - 100 * DAY))).toBeLessThan(60_000)
      }
      // a 90-day prune on the target takes them (they were last stored 100 days ago, not today)
      expect(
        answer(
          cli(['prune', '--older-than', '90d', '--dry-run', '--json'], { env: { SAI_IMAGE_STORAGE_PATH: target } })
        ).wouldDelete
      ).toBe(9)
    }
  )

  it('refuses --to memory: its copies would vanish at exit', async () => {
    const root = await tempDir()
    await agedFrames(root, 1, `memory ${root}`)
    const mapping = join(await tempDir(), 'm.jsonl')
    const run = cli(['migrate', '--from', 'fs', '--to', 'memory', '--mapping', mapping, '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: root }
    })
    expect(run.code).toBe(2)
    expect(answer(run).error.message).toMatch(/--to memory keeps nothing/)
    await expect(readFile(mapping)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('fs -> IPFS (Kubo): each copy keeps its first and last store times (the node time markers)', async () => {
    const root = await tempDir()
    const mapping = join(await tempDir(), 'm.jsonl')
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IPFS_API_URL: inject('ipfsApiUrl'),
      SAI_IPFS_INDEX_PATH: `/sai-jobs-${process.pid}-${Date.now()}`
    }
    const run = (): any =>
      answer(cli(['migrate', '--from', 'fs', '--to', 'ipfs', '--mapping', mapping, '--json'], { env }))
    const first = await agedFrames(root, 2, `ipfs ${root} a`)
    expect(run()).toMatchObject({ total: 2, done: 2, skipped: 0, failed: [] })
    const added = await agedFrames(root, 1, `ipfs ${root} b`)
    expect(run()).toMatchObject({ total: 3, done: 1, skipped: 2, failed: [] })
    const source = new FilesystemDriver({ root })
    for (const hash of [...first, ...added]) {
      const [there, here] = [
        answer(cli(['stat', hash, '--driver', 'ipfs', '--json'], { env })),
        await source.stat(hash)
      ]
      // the fs source's first store (a birth time) is younger than its mtime here: never after the last
      expect({ storedAt: there.storedAt, lastStoredAt: there.lastStoredAt }).toEqual({
        storedAt: here.lastStoredAt!.toISOString(),
        lastStoredAt: here.lastStoredAt!.toISOString()
      })
    }
    // a source that holds both (memory): both kept
    const memory = new MemoryDriver()
    const times = { storedAt: new Date(Date.now() - 200 * DAY), lastStoredAt: new Date(Date.now() - 100 * DAY) }
    const { hash } = await memory.store(testJpeg(`ipfs memory ${root}`), { keepTimes: times })
    const ipfs = new IpfsDriver({ url: env.SAI_IPFS_API_URL, indexPath: env.SAI_IPFS_INDEX_PATH })
    expect(await migrate(memory, ipfs, { mapping: join(await tempDir(), 'm.jsonl') })).toMatchObject({ done: 1 })
    expect(await ipfs.stat(hash)).toMatchObject(times)
  })

  describe('fs -> S3 (Ceph)', () => {
    const s3 = inject('s3')
    const bucket = `sai-jobs-${Date.now().toString(36)}`
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
    beforeAll(async () => {
      const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials, forcePathStyle: true })
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      client.destroy()
    })

    it('each rerun copies the frames stored since; the first store time is kept in the metadata', async () => {
      const root = await tempDir()
      const mapping = join(await tempDir(), 'm.jsonl')
      const prefix = `jobs-${Date.now().toString(36)}/`
      const env = {
        SAI_IMAGE_STORAGE_PATH: root,
        SAI_S3_ENDPOINT: s3.endpoint,
        SAI_S3_BUCKET: bucket,
        SAI_S3_PREFIX: prefix,
        SAI_S3_REGION: s3.region,
        SAI_S3_ACCESS_KEY_ID: s3.accessKeyId,
        SAI_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
        SAI_S3_FORCE_PATH_STYLE: 'true'
      }
      const run = (): any =>
        answer(cli(['migrate', '--from', 'fs', '--to', 's3', '--mapping', mapping, '--json'], { env }))
      const first = await agedFrames(root, 3, `s3 ${root} a`)
      expect(run()).toMatchObject({ total: 3, done: 3, skipped: 0, failed: [] })
      const added = await agedFrames(root, 2, `s3 ${root} b`)
      expect(run()).toMatchObject({ total: 5, done: 2, skipped: 3, failed: [] })
      expect(run()).toMatchObject({ total: 5, done: 0, skipped: 5 })
      expect((await records(mapping)).map(l => l.source).sort()).toEqual([...first, ...added].sort())
      const target = new S3Driver({
        endpoint: s3.endpoint,
        region: s3.region,
        bucket,
        prefix,
        credentials,
        forcePathStyle: true
      })
      const source = new FilesystemDriver({ root })
      for (const hash of [...first, ...added]) {
        const [there, here] = [await target.stat(hash), await source.stat(hash)]
        expect(there.storedAt?.toISOString()).toBe(here.storedAt!.toISOString())
      }
    })
  })
})
