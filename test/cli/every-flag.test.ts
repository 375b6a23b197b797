// Every flag is taken or the command is refused (exit 2) before it does anything: a flag given twice, an empty
// value, a flag the command or that use of it does not take, a whole number not written in digits, a keep list
// naming nothing, an expected-frames list that cannot be read. Each case ran silently (exit 0) before.
import { existsSync } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { cli } from './run.js'

const refused = (args: string[], message: RegExp, env: Record<string, string> = {}, cwd?: string): void => {
  const run = cli(args, { env: { SAI_IMAGE_STORAGE_PATH: '/nonexistent/never-touched', ...env }, cwd })
  expect({ args, code: run.code, first: run.stderr.split('\n')[0] }).toEqual({
    args,
    code: 2,
    first: expect.stringMatching(message)
  })
}

describe('a flag that would be dropped or misread is refused', () => {
  it.each([
    [
      ['prune', '--driver', 'memory', '--dry-run', '--older-than', '5m', '--older-than', '1d'],
      /--older-than is given twice/
    ],
    [['stats', '--root', ''], /--root needs a value, not an empty one/],
    [['stats', '--root='], /--root needs a value, not an empty one/],
    [['exists', '--concurrency', '9', '0'.repeat(64)], /exists takes no --concurrency/],
    [['list', '--driver', 'memory', '--limit', '1e3'], /--limit takes a whole number/],
    [['list', '--driver', 'memory', '--limit', '0x10'], /--limit takes a whole number/],
    [['verify', '--driver', 'memory', '--concurrency', '1e0'], /--concurrency takes a whole number/],
    [['stats', '--driver', 'memory', '--root', '/tmp/elsewhere'], /--root is an fs store's; the driver is memory/],
    [['quarantine', '--reason', 'corrupt'], /quarantine list takes no --reason/],
    [['quarantine', 'list', '--all', '--dry-run'], /quarantine list takes no --all, --dry-run/],
    [['quarantine', 'purge', '--force', '--all'], /quarantine purge takes no --force/],
    [
      [
        'migrate',
        '--driver',
        'fs',
        '--from',
        'memory',
        '--to',
        'fs',
        '--to-root',
        '/tmp/m',
        '--mapping',
        '/tmp/m.jsonl'
      ],
      /migrate takes --from and --to, not --driver/
    ]
  ] as const)('%j', (args, message) => {
    refused([...args], message)
  })

  it('backfill-hashes --id-column Bad is a usage error named by its flag, before it connects', () => {
    refused(['backfill-hashes', '--mapping', '/tmp/none.jsonl', '--id-column', 'Bad'], /--id-column takes a plain/, {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none'
    })
  })

  it('backfill-hashes --batch 1e3 is refused before it connects', () => {
    refused(['backfill-hashes', '--mapping', '/tmp/none.jsonl', '--batch', '1e3'], /--batch takes a whole number/, {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none'
    })
  })

  it('replicate: service flags without --watch, --health with others, contradictions, too short periods', async () => {
    const [root, replica] = [await tempDir('sai-flags'), await tempDir('sai-flags-replica')]
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replica
    }
    refused(['replicate', '--watch-every', '10s'], /--watch-every need --watch/, env)
    refused(['replicate', '--reconcile-every', '1h'], /--reconcile-every need --watch/, env)
    refused(['replicate', '--health', '--watch'], /--health reads the service's state and does nothing else/, env)
    refused(['replicate', '--watch', '--no-reconcile', '--reconcile-every', '1h'], /contradict/, env)
    refused(['replicate', '--watch', '--reconcile-every', '0s'], /--reconcile-every takes 1s or more/, env)
    refused(['replicate', '--watch', '--watch-every', '0s'], /--watch-every takes 0.1s or more/, env)
    // and --concurrency is the drain's now (it was taken and ignored)
    await new FilesystemDriver({ root }).store(testJpeg('copied at 8 at once'))
    const run = cli(['replicate', '--concurrency', '8', '--json'], { env })
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({ copied: 1, pending: 0 })
  })
})

describe('what a destructive command reads, it reads before it acts', () => {
  it('verify --repair with an --expect-file it cannot read stops before anything is repaired', async () => {
    const root = await tempDir('sai-expect-first')
    const storage = new FilesystemDriver({ root })
    const { sha256 } = await storage.store(testJpeg('damaged, and left in place'))
    const file = join(root, sha256.slice(0, 2), sha256.slice(2, 4), `${sha256}.jpg`)
    await writeFile(file, 'not the frame')
    const run = cli(['verify', '--repair', '--expect-file', join(root, 'missing.txt')], {
      env: { SAI_IMAGE_STORAGE_PATH: root }
    })
    expect(run.code).toBe(3) // bad input
    expect(run.stderr).toContain(`Cannot read the --expect-file ${join(root, 'missing.txt')}`)
    expect(existsSync(file)).toBe(true) // not quarantined
    expect(existsSync(join(root, '.quarantine'))).toBe(false)
  })

  it('evict and delete refuse a keep file that names no object, as prune does', async () => {
    const root = await tempDir('sai-empty-keep')
    const empty = join(root, 'keep.txt')
    await writeFile(empty, '')
    const { sha256 } = await new FilesystemDriver({ root }).store(testJpeg('named by a delete'))
    refused(['delete', sha256, '--keep-file', empty], /name no object at all/, { SAI_IMAGE_STORAGE_PATH: root })
    expect(await new FilesystemDriver({ root }).exists(sha256)).toBe(true)
    const replica = await tempDir('sai-empty-keep-replica')
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replica
    }
    refused(['evict', '--older-than', '1s', '--keep-file', empty], /name no object at all/, env)
    const allowed = cli(['delete', sha256, '--keep-file', empty, '--allow-empty-keep'], {
      env: { SAI_IMAGE_STORAGE_PATH: root }
    })
    expect(allowed.code).toBe(0)
  })

  it('migrate --dry-run writes nothing: no mapping file is made', async () => {
    const dir = await tempDir('sai-migrate-dry')
    const run = cli([
      'migrate',
      '--from',
      'fs',
      '--root',
      join(dir, 'from'),
      '--to',
      'fs',
      '--to-root',
      join(dir, 'to'),
      '--mapping',
      join(dir, 'm.jsonl'),
      '--dry-run'
    ])
    expect(run.code).toBe(0)
    expect(await readdir(dir)).toEqual([])
  })
})
