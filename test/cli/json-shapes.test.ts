// `--json` is a contract: each answer that docs/cli.md shows is produced here by a real run, and its
// keys and value types must be the documented ones, no more and no fewer.
import { mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli, type Run } from './run.js'

/** Each `<!-- json: name -->` block of docs/cli.md, parsed. */
async function documentedShapes(): Promise<Record<string, unknown>> {
  const text = await readFile(join(ROOT, 'docs/cli.md'), 'utf8')
  return Object.fromEntries(
    [...text.matchAll(/<!-- json: ([\w-]+) -->\n```json\n(.+)\n```/g)].map(([, name, json]) => [
      name!,
      JSON.parse(json!)
    ])
  )
}

/** Objects keyed by data (a month, a type, a preset, a reason): their values have one shape. */
const MAPS = new Set(['byMonth', 'byType', 'byPreset', 'counts'])

/** Where `real` differs from `documented` in keys or types ([] when the shapes agree). */
function differences(documented: unknown, real: unknown, path = '$'): string[] {
  const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v)
  if (kind(documented) !== kind(real)) return [`${path}: documented ${kind(documented)}, printed ${kind(real)}`]
  if (Array.isArray(documented) && Array.isArray(real)) {
    return documented.length === 0 || real.length === 0 ? [] : differences(documented[0], real[0], `${path}[0]`)
  }
  if (kind(real) !== 'object') return []
  const [doc, got] = [documented as Record<string, unknown>, real as Record<string, unknown>]
  if (MAPS.has(path.split('.').pop()!)) {
    const [first, second] = [Object.values(doc)[0], Object.values(got)[0]]
    return first === undefined || second === undefined ? [] : differences(first, second, `${path}.*`)
  }
  const keys = new Set([...Object.keys(doc), ...Object.keys(got)])
  return [...keys].flatMap(key => {
    if (!(key in got)) return [`${path}.${key}: documented, not printed`]
    if (!(key in doc)) return [`${path}.${key}: printed, not documented`]
    return differences(doc[key], got[key], `${path}.${key}`)
  })
}

const DAY = 86_400_000
let shared: { root: string; env: Record<string, string>; hashes: string[] }

/** A store with frames, their thumbnails, and one frame quarantined by a repair. */
beforeAll(async () => {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const hashes = []
  for (let i = 0; i < 3; i++) hashes.push((await storage.store(testJpeg(`json ${root} ${i}`, 8000))).hash)
  const env = { SAI_IMAGE_STORAGE_PATH: root }
  expect(cli(['variants', 'thumb'], { env }).code).toBe(0)
  const path = storage.pathOf(hashes[0]!)
  const bytes = await readFile(path)
  bytes[4000] = bytes[4000]! ^ 1
  await writeFile(path, bytes)
  shared = { root, env, hashes }
}, 60_000)

async function frameFile(seed: string, size = 6000): Promise<string> {
  const file = join(await tempDir(), `${seed.replace(/\W/g, '_')}.jpg`)
  await writeFile(file, testJpeg(seed, size))
  return file
}

/** A store of its own with one frame quarantined: for the commands that change the quarantine. */
async function quarantinedStore(): Promise<{ env: Record<string, string>; id: string }> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const { path } = await storage.store(testJpeg(`quarantined ${root}`))
  await writeFile(path, 'no longer a frame')
  const env = { SAI_IMAGE_STORAGE_PATH: root }
  cli(['verify', '--repair'], { env })
  return { env, id: answer(cli(['quarantine', '--json'], { env })).entries[0].id }
}

const first = (run: Run): any => JSON.parse(run.stdout.split('\n')[0]!)

/** A filesystem store replicated to a second folder, holding one frame. */
async function replicatedStore(): Promise<{ env: Record<string, string>; hash: string }> {
  const env = {
    SAI_IMAGE_STORAGE_PATH: await tempDir(),
    SAI_IMAGE_STORAGE_REPLICAS: 'fs',
    SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir()
  }
  const { hash } = answer(
    cli(['store', await frameFile(`json replicated ${env.SAI_IMAGE_STORAGE_PATH}`), '--json'], { env })
  )
  return { env, hash }
}

const SCENARIOS: Record<string, () => Promise<unknown>> = {
  error: async () =>
    answer(cli(['fetch', '0'.repeat(64), '-o', join(await tempDir(), 'x.jpg'), '--json'], { env: shared.env })),
  'usage-error': async () => answer(cli(['verify', '--fix', '--json'])),
  store: async () => answer(cli(['store', await frameFile('json store'), '--json'], { env: shared.env })),
  'store-several': async () => {
    const notes = join(await tempDir(), 'notes.txt')
    await writeFile(notes, 'a note')
    const run = cli(['store', await frameFile('json store several'), notes, '--json'], { env: shared.env })
    expect(run.code).toBe(3)
    return answer(run)
  },
  delete: async () => {
    const env = { SAI_IMAGE_STORAGE_PATH: await tempDir() }
    const { hash } = answer(cli(['store', await frameFile('json delete'), '--json'], { env }))
    return answer(cli(['delete', hash, '--json'], { env }))
  },
  'fetch-file': async () =>
    answer(cli(['fetch', shared.hashes[1]!, '-o', join(await tempDir(), 'f.jpg'), '--json'], { env: shared.env })),
  'fetch-stdout': async () => answer(cli(['fetch', shared.hashes[1]!, '--json'], { env: shared.env }), 'stderr'),
  exists: async () => answer(cli(['exists', shared.hashes[1]!, '--json'], { env: shared.env })),
  stat: async () => answer(cli(['stat', shared.hashes[1]!, '--json'], { env: shared.env })),
  list: async () => first(cli(['list', '--json'], { env: shared.env })),
  verify: async () => {
    const run = cli(['verify', '--repair', '--json'], { env: shared.env })
    expect(run.code).toBe(1)
    return answer(run)
  },
  stats: async () => answer(cli(['stats', '--types', '--json'], { env: shared.env })),
  'quarantine-list': async () => answer(cli(['quarantine', 'list', '--json'], { env: (await quarantinedStore()).env })),
  'quarantine-restore': async () => {
    const { env, id } = await quarantinedStore()
    return answer(cli(['quarantine', 'restore', '--force', id, '--json'], { env })) // (its bytes are damaged: --force)
  },
  'quarantine-purge': async () => {
    const { env, id } = await quarantinedStore()
    return answer(cli(['quarantine', 'purge', id, 'no-such-entry', '--json'], { env }))
  },
  prune: async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    for (const [i, days] of [120, 100, 40, 10].entries()) {
      const { path } = await storage.store(testJpeg(`json prune ${root} ${i}`, 5000))
      const when = new Date(Date.now() - days * DAY)
      await utimes(path, when, when)
    }
    return answer(
      cli(['prune', '--older-than', '110d', '--max-bytes', '10000B', '--dry-run', '--json'], {
        env: { SAI_IMAGE_STORAGE_PATH: root }
      })
    )
  },
  import: async () => {
    const dir = await tempDir('sai-tree')
    await mkdir(join(dir, '2'))
    await writeFile(join(dir, '2/3200.jpg'), testJpeg(`json import ${dir}`, 3000))
    await writeFile(join(dir, '2/3201.jpg'), testJpeg(`json import large ${dir}`, 20_000))
    await writeFile(join(dir, '2/notes.txt'), 'a note')
    await writeFile(join(dir, '2/Thumbs.db'), 'x')
    await symlink(join(dir, '2/3200.jpg'), join(dir, '2/latest.jpg'))
    const env = { SAI_IMAGE_STORAGE_PATH: await tempDir(), SAI_IMAGE_STORAGE_MAX_BYTES: '10000' }
    return answer(
      cli(
        [
          'import',
          '--min-age',
          '0s',
          dir,
          '--mapping',
          join(await tempDir(), 'import.jsonl'),
          '--exclude',
          'Thumbs.db',
          '--json'
        ],
        {
          env
        }
      )
    )
  },
  migrate: async () =>
    answer(
      cli(
        [
          'migrate',
          '--from',
          'fs',
          '--to',
          'fs',
          '--to-root',
          await tempDir(),
          '--mapping',
          join(await tempDir(), 'm.jsonl'),
          '--json'
        ],
        { env: shared.env }
      )
    ),
  'migrate-dry-run': async () =>
    answer(
      cli(
        [
          'migrate',
          '--from',
          'fs',
          '--to',
          'fs',
          '--to-root',
          await tempDir(),
          '--mapping',
          join(await tempDir(), 'm.jsonl'),
          '--dry-run',
          '--json'
        ],
        { env: shared.env }
      )
    ),
  variants: async () => {
    const root = await tempDir()
    const storage = new FilesystemDriver({ root })
    await storage.store(testJpeg(`json variants ${root}`))
    const broken = Buffer.alloc(3000, 7)
    broken.set([0xff, 0xd8, 0xff, 0xe0]) // a JPEG's signature, and nothing sharp can decode
    await storage.store(broken)
    const run = cli(['variants', 'thumb', '--json'], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(run.code).toBe(1)
    return answer(run)
  },
  'backfill-hashes': async () => {
    const tree = await tempDir('sai-original')
    await mkdir(join(tree, '3'))
    await writeFile(join(tree, '3/3200.jpg'), testJpeg(`json backfill ${tree} 1`))
    await writeFile(join(tree, '3/3201.jpg'), testJpeg(`json backfill ${tree} 2`))
    const mapping = join(await tempDir(), 'import.jsonl')
    cli(['import', '--min-age', '0s', tree, '--mapping', mapping], { env: { SAI_IMAGE_STORAGE_PATH: await tempDir() } })
    const table = `sai_json_${process.pid}_${Date.now()}`
    const db = new pg.Client({ connectionString: inject('databaseUrl') })
    await db.connect()
    try {
      await db.query(`CREATE TABLE ${table} (execution_id bigint PRIMARY KEY, image_hash char(64))`)
      await db.query(`INSERT INTO ${table} VALUES (3200, NULL), (3201, '${'e'.repeat(64)}')`)
    } finally {
      await db.end()
    }
    const run = cli(['backfill-hashes', '--mapping', mapping, '--table', table, '--json'], {
      env: { DATABASE_URL: inject('databaseUrl') }
    })
    expect(run.code).toBe(1) // the row that held another hash
    return answer(run)
  },
  'ipfs-reindex': async () => {
    const api = inject('ipfsApiUrl')
    const env = { SAI_IPFS_API_URL: api, SAI_IPFS_INDEX_PATH: `/sai-json-${process.pid}-${Date.now()}` }
    const { hash } = answer(
      cli(['store', await frameFile(`json ipfs ${Date.now()}`), '--driver', 'ipfs', '--json'], { env })
    )
    const unpinned = await fetch(`${api}/api/v0/pin/rm?arg=${hash}`, { method: 'POST' })
    expect(unpinned.status).toBe(200)
    await unpinned.arrayBuffer()
    const run = cli(['ipfs-reindex', '--json'], { env })
    expect(run.code).toBe(1) // the entry whose object is no longer pinned
    return answer(run)
  },
  replicate: async () => answer(cli(['replicate', '--json'], { env: (await replicatedStore()).env })),
  status: async () => {
    const { env } = await replicatedStore()
    cli(['replicate'], { env })
    return answer(cli(['status', '--json'], { env }))
  },
  whereis: async () => {
    const { env, hash } = await replicatedStore()
    cli(['replicate'], { env })
    return answer(cli(['whereis', hash, '--json'], { env }))
  },
  evict: async () => {
    const { env } = await replicatedStore()
    cli(['replicate'], { env })
    return answer(cli(['evict', '--older-than', '1s', '--dry-run', '--json'], { env }))
  },
  'take-over': async () => answer(cli(['take-over', '--json'], { env: (await replicatedStore()).env })),
  help: async () => answer(cli(['help', '--json'])),
  'help-command': async () => answer(cli(['help', 'verify', '--json'])),
  version: async () => answer(cli(['--version', '--json']))
}

describe('the --json answers that docs/cli.md documents', () => {
  let documented: Record<string, unknown>
  beforeAll(async () => {
    documented = await documentedShapes()
  })

  it('documents each answer tested here, and nothing else', () => {
    expect(Object.keys(documented).sort()).toEqual(Object.keys(SCENARIOS).sort())
  })

  it('documents an answer of every command that help lists', () => {
    const commands: string[] = answer(cli(['help', '--json'])).commands
    expect(commands.length).toBeGreaterThan(10)
    expect(
      commands.filter(name => !Object.keys(documented).some(shape => shape === name || shape.startsWith(`${name}-`)))
    ).toEqual([])
  })

  it.each(Object.keys(SCENARIOS))(
    '%s',
    async name => {
      const real = await SCENARIOS[name]!()
      expect(differences(documented[name], real)).toEqual([])
    },
    120_000
  )

  it("import's example counts what its scenario prints, and adds up: total = done + skipped + failed", async () => {
    const counts = (a: any) => ({
      total: a.total,
      done: a.done,
      skipped: a.skipped,
      failed: a.failed.length,
      notImages: a.notImages,
      symlinks: a.symlinks,
      excluded: a.excluded
    })
    const real = counts(await SCENARIOS.import!())
    expect(counts(documented.import)).toEqual(real)
    expect(real.total).toBe(real.done + real.skipped + real.failed)
  })

  it('the comparison can fail: a missing, an extra and a retyped field are each found', () => {
    expect(differences({ a: 1, b: { c: 'x' } }, { a: 1, b: { c: 'x' } })).toEqual([])
    expect(differences({ a: 1, b: 2 }, { a: 1 })).toEqual(['$.b: documented, not printed'])
    expect(differences({ a: 1 }, { a: 1, z: true })).toEqual(['$.z: printed, not documented'])
    expect(differences({ a: [{ n: 1 }] }, { a: [{ n: '1' }] })).toEqual(['$.a[0].n: documented number, printed string'])
  })
})
