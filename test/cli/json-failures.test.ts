// Every failure path of every command, with --json: exactly one JSON object, the error, on the
// answer stream (stdout; stderr for fetch without -o, whose stdout is for bytes), the documented
// exit code, and one line of text for a person on stderr.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { cli } from './run.js'

interface Case {
  args: string[]
  env?: Record<string, string>
  exit: number
  code: string
  input?: Buffer
  stream?: 'stdout' | 'stderr'
}

const ZERO = '0'.repeat(64)
let cases: Case[]

beforeAll(async () => {
  const root = await tempDir()
  const dir = await tempDir()
  const storage = new FilesystemDriver({ root })
  const good = await storage.store(testJpeg('failures good'))
  const bad = await storage.store(testJpeg('failures damaged'))
  const bytes = await readFile(bad.path)
  bytes[100] = bytes[100]! ^ 1
  await writeFile(bad.path, bytes)
  await writeFile(join(dir, 'notes.txt'), 'not an image')
  await writeFile(join(dir, 'a-file'), 'x')
  await mkdir(join(dir, 'tree'))
  const missing = join(dir, 'missing')
  const out = join(dir, 'out.jpg')
  const frame = testJpeg('failures input')
  const map = join(dir, 'map.jsonl')
  await writeFile(map, '')
  const noRoot = { SAI_IMAGE_STORAGE_PATH: missing, SAI_IMAGE_STORAGE_CREATE_ROOT: 'false' }
  const fileRoot = { SAI_IMAGE_STORAGE_PATH: join(dir, 'a-file') }
  const usage = (...args: string[]): Case => ({ args, exit: 2, code: 'ERR_USAGE' })
  const noReplicas = (...args: string[]): Case => ({ args, exit: 6, code: 'ERR_CONFIG' })
  const list: Case[] = [
    usage(),
    usage('frobnicate'),
    usage('--bogus'),
    usage('verify', '--root'),
    usage('verify', '--repair=yes'),
    usage('store'),
    { args: ['store', join(dir, 'notes.txt')], exit: 3, code: 'ERR_INVALID_INPUT' },
    { args: ['store', join(dir, 'nope.jpg')], exit: 3, code: 'ERR_INVALID_INPUT' },
    { args: ['store', '-'], env: { SAI_IMAGE_STORAGE_MAX_BYTES: '10' }, input: frame, exit: 3, code: 'ERR_TOO_LARGE' },
    { args: ['store', '-'], env: fileRoot, input: frame, exit: 5, code: 'ERR_STORAGE_UNAVAILABLE' },
    { args: ['store', '-'], env: { SAI_IMAGE_STORAGE_FSYNC: 'maybe' }, input: frame, exit: 6, code: 'ERR_CONFIG' },
    { args: ['fetch'], exit: 2, code: 'ERR_USAGE', stream: 'stderr' },
    { args: ['fetch', bad.hash], exit: 4, code: 'ERR_INTEGRITY', stream: 'stderr' },
    { args: ['fetch', ZERO], exit: 1, code: 'ERR_NOT_FOUND', stream: 'stderr' },
    { args: ['fetch', '../../etc/passwd', '-o', out], exit: 3, code: 'ERR_INVALID_REF' },
    { args: ['fetch', ZERO, '-o', out], exit: 1, code: 'ERR_NOT_FOUND' },
    { args: ['fetch', bad.hash, '-o', out], exit: 4, code: 'ERR_INTEGRITY' },
    { args: ['fetch', good.hash, '-o', join(missing, 'out.jpg')], exit: 3, code: 'ERR_INVALID_INPUT' },
    { args: ['fetch', good.hash, '-o', out], env: noRoot, exit: 5, code: 'ERR_STORAGE_UNAVAILABLE' },
    usage('exists'),
    { args: ['exists', '../x'], exit: 3, code: 'ERR_INVALID_REF' },
    { args: ['exists', ZERO], env: noRoot, exit: 5, code: 'ERR_STORAGE_UNAVAILABLE' },
    usage('stat'),
    { args: ['stat', ZERO], exit: 1, code: 'ERR_NOT_FOUND' },
    { args: ['stat', 'xyz'], exit: 3, code: 'ERR_INVALID_REF' },
    usage('list', '--prefix', 'zz'),
    usage('list', '--after', 'abc'),
    usage('list', '--limit', '0'),
    { args: ['list'], env: noRoot, exit: 5, code: 'ERR_STORAGE_UNAVAILABLE' },
    usage('stats', '--types=yes'),
    { args: ['stats'], env: noRoot, exit: 5, code: 'ERR_STORAGE_UNAVAILABLE' },
    usage('verify', '--subset', '9/3'),
    usage('verify', '--resume'),
    usage('verify', '--driver', 'memory'),
    usage('verify', '--driver', 'floppy'),
    { args: ['verify'], env: noRoot, exit: 5, code: 'ERR_STORAGE_UNAVAILABLE' },
    usage('quarantine', 'frobnicate'),
    usage('quarantine', 'restore'),
    usage('quarantine', 'purge'),
    usage('quarantine', '--driver', 'memory'),
    usage('quarantine', 'purge', '--older-than', 'soon'),
    usage('variants'),
    usage('variants', 'poster'),
    { args: ['variants', 'thumb', '--driver', 'memory'], exit: 6, code: 'ERR_CONFIG' },
    usage('prune'),
    usage('prune', '--older-than', 'soon'),
    usage('prune', '--max-bytes', 'lots'),
    usage('prune', '--older-than', '1d', '--list', out),
    { args: ['prune', '--older-than', '1d', '--keep-file', join(dir, 'nope.txt')], exit: 3, code: 'ERR_INVALID_INPUT' },
    {
      args: ['prune', '--older-than', '1d', '--keep-sql', 'SELECT 1'],
      env: { DATABASE_URL: '' },
      exit: 6,
      code: 'ERR_CONFIG'
    },
    { args: ['prune', '--older-than', '1d'], env: noRoot, exit: 5, code: 'ERR_STORAGE_UNAVAILABLE' },
    usage('import'),
    { args: ['import', missing], exit: 3, code: 'ERR_INVALID_INPUT' },
    {
      args: ['import', '--min-age', '0s', join(dir, 'tree'), '--mapping', join(missing, 'map.jsonl')],
      exit: 3,
      code: 'ERR_INVALID_INPUT'
    },
    usage('migrate'),
    usage('migrate', '--from', 'fs', '--to', 'floppy', '--mapping', map),
    usage('migrate', '--from', 'fs', '--to', 'fs', '--mapping', map),
    usage('backfill-hashes'),
    usage('backfill-hashes', '--mapping', map, '--batch', '0'),
    { args: ['backfill-hashes', '--mapping', map], env: { DATABASE_URL: '' }, exit: 6, code: 'ERR_CONFIG' },
    {
      args: ['backfill-hashes', '--mapping', map],
      env: { DATABASE_URL: 'postgres://sai:secret@127.0.0.1:1/db' },
      exit: 5,
      code: 'ERR_STORAGE_UNAVAILABLE'
    },
    // a store without replicas: a configuration missing (ERR_CONFIG), not a mistyped command
    noReplicas('replicate'),
    noReplicas('status'),
    noReplicas('whereis', ZERO),
    noReplicas('evict', '--older-than', '30d'),
    usage('evict'),
    usage('ipfs-reindex', '--driver', 'fs'),
    {
      args: ['ipfs-reindex'],
      env: { SAI_IPFS_API_URL: 'http://127.0.0.1:1', SAI_IPFS_TIMEOUT_MS: '2000' },
      exit: 5,
      code: 'ERR_STORAGE_UNAVAILABLE'
    }
  ]
  cases = list.map(c => ({ ...c, env: { SAI_IMAGE_STORAGE_PATH: root, ...c.env } }))
})

describe('every failure, with --json, is one JSON error on the answer stream', () => {
  it("each command's failure paths", () => {
    expect(cases.length).toBeGreaterThan(50)
    for (const { args, env, exit, code, input, stream = 'stdout' } of cases) {
      const run = cli([...args, '--json'], { env, input })
      const other = stream === 'stdout' ? 'stderr' : 'stdout'
      const lines = run[stream].split('\n').filter(line => line !== '')
      const parsed = lines.map(line => {
        try {
          return JSON.parse(line)
        } catch {
          return line
        }
      })
      expect({ args, exit: run.code, answer: parsed, ...(run.code === exit ? {} : { stderr: run.stderr }) }).toEqual({
        args,
        exit,
        answer: [
          {
            error:
              code === 'ERR_USAGE'
                ? { code, message: expect.any(String), usage: expect.stringMatching(/^sai-images /) }
                : { code, message: expect.any(String) }
          }
        ]
      })
      if (stream === 'stdout')
        expect({ args, text: run.stderr.split('\n')[0] }).toEqual({
          args,
          text: expect.stringMatching(/^sai-images: /)
        })
      else expect({ args, other: run[other] }).toEqual({ args, other: '' }) // fetch: stdout holds bytes or nothing
      expect({ args, secret: run.stdout.includes('secret') || run.stderr.includes('secret') }).toEqual({
        args,
        secret: false
      })
    }
  }, 180_000)
})
