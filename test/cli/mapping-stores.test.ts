// A mapping says which store its items went to: a rerun into another store (another root, bucket or
// prefix) with the same mapping is refused (ERR_CONFIG, exit 6) instead of passing over every item as
// done with nothing there; a store moved to another path keeps its mapping; and a migrate rerun copies
// again what the target lost since (one listing of it). Real child processes of the CLI, real folders,
// the real Ceph RADOS Gateway.
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { S3Driver } from '../../src/drivers/s3/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { bucket, init, s3, env as s3env, useBucket } from '../drivers/s3/helpers.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

/** A folder of `count` frames to import. */
async function tree(count: number): Promise<string> {
  const dir = await tempDir()
  for (let i = 0; i < count; i++) await writeFile(join(dir, `${i}.jpg`), testJpeg(`mapping stores ${dir} ${i}`, 3000))
  return dir
}

/** A store holding `count` frames: a migrate's source. */
async function source(count: number): Promise<string> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  for (let i = 0; i < count; i++) await storage.store(testJpeg(`mapping stores source ${root} ${i}`, 3000))
  return root
}

const lines = async (mapping: string): Promise<any[]> =>
  (await readFile(mapping, 'utf8'))
    .trim()
    .split('\n')
    .map(line => JSON.parse(line))

const count = async (root: string): Promise<number> => {
  let n = 0
  for await (const _ of new FilesystemDriver({ root, createRoot: false }).list()) n++
  return n
}

/** `dir` imported into `root`, its mapping as an earlier release wrote it (records, no line naming the store). */
async function earlierReleaseMapping(dir: string, root: string): Promise<{ mapping: string; old: any[] }> {
  const mapping = join(await tempDir(), 'import.jsonl')
  expect(
    cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { env: { SAI_IMAGE_STORAGE_PATH: root } }).code
  ).toBe(0)
  const old = (await lines(mapping)).filter(line => line.mapping === undefined)
  await writeFile(mapping, old.map(line => `${JSON.stringify(line)}\n`).join(''))
  return { mapping, old }
}

describe('import: a mapping belongs to the store it was run into', () => {
  it('into another root: refused, exit 6, naming the store it is for; that root gets nothing', async () => {
    const dir = await tree(3)
    const [a, b] = [await tempDir(), await tempDir()]
    const mapping = join(await tempDir(), 'import.jsonl')
    expect(
      cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { env: { SAI_IMAGE_STORAGE_PATH: a } }).code
    ).toBe(0)
    const before = await readFile(mapping, 'utf8')
    const run = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: b }
    })
    expect(run.code).toBe(6)
    const { error } = answer(run)
    expect(error.code).toBe('ERR_CONFIG')
    expect(error.message).toContain(`into fs ${a} (store id `)
    expect(error.message).toContain(`not into fs ${b}`)
    expect(error.message).toContain('--mapping')
    expect(await count(b)).toBe(0)
    expect(await readFile(mapping, 'utf8')).toBe(before)
    // another mapping for it: every file stored there
    const own = join(await tempDir(), 'b.jsonl')
    const there = cli(['import', '--min-age', '0s', dir, '--mapping', own, '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: b }
    })
    expect(answer(there)).toMatchObject({ done: 3, skipped: 0 })
    expect(await count(b)).toBe(3)
  })

  it('the first line names the folder and the store (no hash: `select(.hash)` reads the records)', async () => {
    const dir = await tree(2)
    const root = await tempDir()
    const mapping = join(await tempDir(), 'import.jsonl')
    expect(
      cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { env: { SAI_IMAGE_STORAGE_PATH: root } }).code
    ).toBe(0)
    const [first, ...records] = await lines(mapping)
    expect(first).toEqual({
      mapping: {
        job: 'import',
        from: { folder: dir },
        to: { driver: 'fs', location: root, id: expect.stringMatching(/^[0-9a-f-]{36}$/) }
      }
    })
    expect(records.map(r => typeof r.hash)).toEqual(['string', 'string'])
  })

  it('a store moved to another path (a remount) keeps its mapping: its id travels with it', async () => {
    const dir = await tree(3)
    const root = await tempDir()
    const mapping = join(await tempDir(), 'import.jsonl')
    expect(
      cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { env: { SAI_IMAGE_STORAGE_PATH: root } }).code
    ).toBe(0)
    const moved = `${root}-moved`
    await rename(root, moved)
    await writeFile(join(dir, 'new.jpg'), testJpeg(`mapping stores new ${dir}`, 3000))
    const run = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: moved }
    })
    expect(run.code).toBe(0)
    expect(answer(run)).toMatchObject({ total: 4, skipped: 3, done: 1 })
    expect(await count(moved)).toBe(4)
  })

  it('a mapping of an earlier release (no such line) is named on its next run, then refused elsewhere', async () => {
    const dir = await tree(2)
    const [a, b] = [await tempDir(), await tempDir()]
    const { mapping, old } = await earlierReleaseMapping(dir, a)
    const next = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: a }
    })
    expect(answer(next)).toMatchObject({ skipped: 2, done: 0, missingOnTarget: 0 })
    const after = await lines(mapping)
    expect(after.slice(0, 2)).toEqual(old)
    expect(after[2].mapping.to).toMatchObject({ driver: 'fs', location: a })
    expect(
      cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { env: { SAI_IMAGE_STORAGE_PATH: b } }).code
    ).toBe(6)
  })

  it('a mapping of an earlier release run first into another store: what that store lacks is imported, said', async () => {
    const dir = await tree(3)
    const [a, b] = [await tempDir(), await tempDir()]
    const { mapping } = await earlierReleaseMapping(dir, a)
    // b holds one of the three already (stored by another job): two are imported, none passed over unseen
    await new FilesystemDriver({ root: b }).store(await readFile(join(dir, '1.jpg')))
    const run = cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { env: { SAI_IMAGE_STORAGE_PATH: b } })
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('2 objects the mapping records missing from the target (imported again)')
    expect(run.stdout).toContain('2 done, 1 already done earlier')
    expect(await count(b)).toBe(3)
    expect((await lines(mapping)).at(-3)?.mapping?.to).toMatchObject({ driver: 'fs', location: b })
    // bound to b now: a rerun there lists nothing, passes over all three
    const again = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: b }
    })
    expect(answer(again)).toMatchObject({ skipped: 3, done: 0 })
    expect(answer(again).missingOnTarget).toBeUndefined()
  })
})

describe('migrate: a mapping belongs to its target', () => {
  it('fs to another root: refused (and its dry run), exit 6; the same target: passed over', async () => {
    const from = await source(3)
    const [c, d] = [await tempDir(), await tempDir()]
    const mapping = join(await tempDir(), 'migrate.jsonl')
    const fsToFs = ['migrate', '--from', 'fs', '--to', 'fs', '--root', from, '--mapping', mapping]
    const args = (to: string): string[] => [...fsToFs, '--to-root', to, '--json']
    expect(answer(cli(args(c)))).toMatchObject({ done: 3 })
    for (const extra of [[], ['--dry-run']]) {
      const run = cli([...args(d), ...extra])
      expect(run.code).toBe(6)
      expect(answer(run).error).toMatchObject({
        code: 'ERR_CONFIG',
        message: expect.stringContaining(`migrate into fs ${c} (store id `)
      })
    }
    expect(await count(d)).toBe(0)
    expect(answer(cli(args(c)))).toMatchObject({ done: 0, skipped: 3, missingOnTarget: 0 })
    const [first] = await lines(mapping)
    expect(first.mapping).toMatchObject({ job: 'migrate', from: { driver: 'fs', location: from }, to: { location: c } })
  })

  it('an object the target lost since (deleted by hand) is counted, said and copied again', async () => {
    const from = await source(3)
    const to = await tempDir()
    const mapping = join(await tempDir(), 'migrate.jsonl')
    const args = ['migrate', '--from', 'fs', '--to', 'fs', '--root', from, '--to-root', to, '--mapping', mapping]
    expect(cli(args).code).toBe(0)
    const target = new FilesystemDriver({ root: to })
    const [lost] = (await lines(mapping)).filter(line => line.hash !== undefined)
    await rm(target.pathOf(lost.hash))
    expect(answer(cli([...args, '--dry-run', '--json']))).toMatchObject({
      wouldCopy: 1,
      alreadyCopied: 2,
      missingOnTarget: 1
    })
    const run = cli(args)
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('1 object the mapping records missing from the target (copied again)')
    expect(run.stdout).toContain('migrate complete: 1 done, 2 already done earlier')
    expect((await target.fetch(lost.hash)).equals(await new FilesystemDriver({ root: from }).fetch(lost.hash))).toBe(
      true
    )
    expect(answer(cli([...args, '--json']))).toMatchObject({ done: 0, skipped: 3, missingOnTarget: 0 })
  })
})

describe('migrate to S3 on the Ceph RADOS Gateway', () => {
  useBucket()
  const env = (prefix: string): Record<string, string> => ({
    ...s3env,
    SAI_S3_PREFIX: prefix,
    SAI_S3_FORCE_PATH_STYLE: 'true',
    SAI_S3_TIMEOUT_MS: '10000'
  })

  it('to another prefix with the same mapping: refused, exit 6, naming the first; no secret anywhere', async () => {
    const from = await source(3)
    const mapping = join(await tempDir(), 'to-s3.jsonl')
    const args = ['migrate', '--from', 'fs', '--root', from, '--to', 's3', '--mapping', mapping, '--json']
    const [a, b] = [`a${Math.random().toString(36).slice(2)}/`, `b${Math.random().toString(36).slice(2)}/`]
    expect(answer(cli(args, { env: env(a) }))).toMatchObject({ done: 3, failed: [] })
    const run = cli(args, { env: env(b) })
    expect(run.code).toBe(6)
    const { error } = answer(run)
    expect(error.code).toBe('ERR_CONFIG')
    expect(error.message).toContain(`migrate into s3 s3://${bucket}/${a} at ${s3.endpoint}`)
    expect(error.message).toContain(`not into s3 s3://${bucket}/${b}`)
    let there = 0
    for await (const _ of new S3Driver({ ...init, prefix: b }).list()) there++
    expect(there).toBe(0)
    for (const text of [run.stdout, run.stderr, await readFile(mapping, 'utf8')])
      expect(text).not.toContain(s3.secretAccessKey)
    // the same prefix again: every object passed over, none missing
    expect(answer(cli(args, { env: env(a) }))).toMatchObject({ done: 0, skipped: 3, missingOnTarget: 0 })
  })
})
