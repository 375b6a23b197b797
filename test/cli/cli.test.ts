import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, symlink, truncate, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg, testPng } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { CLI, cli as run, type Run } from './run.js'

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const cli = (args: string[], env: Record<string, string> = {}, input?: Buffer, cwd?: string): Run =>
  run(args, { env, input, cwd })

/** The dashboard's tree: original/{floor(id/1000)}/{id}.jpg, with some frames sent twice. */
async function dashboardTree(count: number): Promise<{ dir: string; files: Map<string, Buffer> }> {
  const dir = await tempDir('sai-dashboard')
  const files = new Map<string, Buffer>()
  for (let id = 1; id <= count; id++) {
    const path = `original/${Math.floor(id / 1000)}/${id}.jpg`
    const bytes = testJpeg(`frame ${id % 7 === 0 ? id - 1 : id}`, 20_000)
    await mkdir(join(dir, 'original', String(Math.floor(id / 1000))), { recursive: true })
    await writeFile(join(dir, path), bytes)
    files.set(path, bytes)
  }
  return { dir, files }
}

const lines = async (path: string): Promise<string[]> =>
  (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(l => l !== '')
/** The lines of a mapping that record an item (not its own line, which names its stores, nor checkpoints). */
const items = async (path: string): Promise<any[]> =>
  (await lines(path))
    .map(line => JSON.parse(line))
    .filter(entry => entry.checkpoint === undefined && entry.mapping === undefined)

/**
 * The records a mapping holds whole (ended by a newline): not its own line naming its stores, nor a torn last line.
 * (Counting every line, the kill could land at 98 records for 100 lines: a flake seen once in CI.)
 */
async function wholeItems(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '')
  const whole = text.slice(0, text.lastIndexOf('\n') + 1).split('\n')
  return whole.filter(line => line !== '' && !line.startsWith('{"mapping"') && !line.startsWith('{"checkpoint"')).length
}

/** Starts a long job and sends `signal` once its mapping holds at least `after` whole records. */
async function interrupt(
  args: string[],
  env: Record<string, string>,
  mapping: string,
  after: number,
  signal: NodeJS.Signals
): Promise<{ code: number | null; signalCode: NodeJS.Signals | null; stdout: string; itemsAtSignal: number }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } })
  let stdout = ''
  child.stdout.on('data', d => {
    stdout += d
  })
  const closed = new Promise<void>(resolve => child.on('close', () => resolve()))
  let itemsAtSignal = -1
  for (;;) {
    if (child.exitCode !== null) break
    const count = await wholeItems(mapping)
    if (count >= after) {
      child.kill(signal)
      itemsAtSignal = count
      break
    }
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  await closed
  return { code: child.exitCode, signalCode: child.signalCode, stdout, itemsAtSignal }
}

async function expectCompleteImport(
  files: Map<string, Buffer>,
  mapping: string,
  root: string,
  maxStrayTemps = 0
): Promise<void> {
  const entries = await items(mapping)
  expect(entries).toHaveLength(files.size)
  expect(new Set(entries.map(e => e.source)).size).toBe(files.size)
  const storage = new FilesystemDriver({ root })
  for (const entry of entries) {
    expect(entry.hash).toBe(sha256(files.get(entry.source)!))
    expect(entry.key).toBe(storage.keyOf(entry.hash))
  }
  // a killed run may leave one temp per worker, never a damaged object; verify --repair sweeps them
  const report = await storage.verify({ tempMinAgeMs: 0, repair: true })
  expect(report.problems.filter(p => p.reason !== 'stray-temp')).toEqual([])
  expect(report.problems.length).toBeLessThanOrEqual(maxStrayTemps)
  expect(report.checked).toBe(new Set(entries.map(e => e.hash)).size)
  expect((await storage.verify({ tempMinAgeMs: 0 })).problems).toEqual([])
}

describe('sai-images CLI (the built binary)', () => {
  it('store, fetch, exists, stat and stats', async () => {
    const root = await tempDir()
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const dir = await tempDir()
    const jpeg = testJpeg('cli store', 30_000)
    await writeFile(join(dir, 'a.jpg'), jpeg)
    const stored = JSON.parse(cli(['store', join(dir, 'a.jpg'), '--json'], env).stdout)
    expect(stored).toMatchObject({ hash: sha256(jpeg), isDuplicate: false, size: jpeg.length })
    const again = cli(['store', '-'], env, jpeg)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('(duplicate)')
    expect(cli(['store', '-', '--json'], env, testPng('cli png')).code).toBe(0)

    expect(Buffer.compare(cli(['fetch', stored.hash], env).bytes, jpeg)).toBe(0)
    expect(cli(['fetch', stored.hash, '-o', join(dir, 'out.jpg')], env).code).toBe(0)
    expect(Buffer.compare(await readFile(join(dir, 'out.jpg')), jpeg)).toBe(0)

    expect(cli(['exists', stored.hash], env)).toMatchObject({ code: 0, stdout: 'true\n' })
    expect(cli(['exists', '0'.repeat(64)], env)).toMatchObject({ code: 1, stdout: 'false\n' })
    expect(JSON.parse(cli(['stat', stored.hash, '--json'], env).stdout)).toMatchObject({
      size: jpeg.length,
      mimeType: 'image/jpeg',
      key: stored.key
    })
    const month = new Date().toISOString().slice(0, 7)
    expect(JSON.parse(cli(['stats', '--json'], env).stdout)).toEqual({
      objects: 2,
      bytes: jpeg.length + testPng('cli png').length,
      byMonth: { [month]: { objects: 2, bytes: jpeg.length + testPng('cli png').length } },
      quarantine: { objects: 0, bytes: 0 },
      variants: { entries: 0, bytes: 0, byPreset: {} },
      store: root,
      rootExists: true
    })
    // the type is read from each object's first bytes only when asked for
    expect(JSON.parse(cli(['stats', '--types', '--json'], env).stdout).byType).toEqual({
      'image/jpeg': { objects: 1, bytes: jpeg.length },
      'image/png': { objects: 1, bytes: testPng('cli png').length }
    })
  })

  it('gives a clear message and exit code for every error class', async () => {
    const root = await tempDir()
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const file = join(root, 'not-a-dir')
    await writeFile(file, 'x')
    const dir = await tempDir()
    await writeFile(join(dir, 'notes.txt'), 'not an image')
    const cases: Array<[string[], Record<string, string>, number, string]> = [
      [['fetch', '0'.repeat(64)], env, 1, 'ERR_NOT_FOUND'],
      [['exists', '../../etc/passwd'], env, 3, 'ERR_INVALID_REF'],
      [['store', join(dir, 'notes.txt')], env, 3, 'ERR_INVALID_INPUT'],
      [['store', join(dir, 'missing.jpg')], env, 3, 'ERR_INVALID_INPUT'],
      [['store', '-'], { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_MAX_BYTES: '10' }, 3, 'ERR_TOO_LARGE'],
      [['store', '-'], { SAI_IMAGE_STORAGE_PATH: file }, 5, 'ERR_STORAGE_UNAVAILABLE'],
      [['exists', '0'.repeat(64)], { SAI_IMAGE_STORAGE_FSYNC: 'maybe' }, 6, 'ERR_CONFIG'],
      [['frobnicate'], env, 2, 'unknown command'],
      [['import'], env, 2, 'missing <dir>'],
      [['exists', '0'.repeat(64), '--bogus'], env, 2, 'exists takes no --bogus']
    ]
    for (const [args, caseEnv, code, message] of cases) {
      const result = cli(args, caseEnv, testJpeg('cli errors'))
      expect({ args, code: result.code, message: result.stderr.includes(message) }).toEqual({
        args,
        code,
        message: true
      })
    }
    const corrupt = new FilesystemDriver({ root })
    const { hash, path } = await corrupt.store(testJpeg('cli corrupt'))
    await truncate(path, 100)
    expect(cli(['fetch', hash, '-o', join(dir, 'bad.jpg')], env)).toMatchObject({ code: 4 })
    await expect(readFile(join(dir, 'bad.jpg'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('verify finds every injected fault; --repair leaves a clean store', async () => {
    const root = await tempDir()
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const storage = new FilesystemDriver({ root })
    const results = []
    for (let i = 0; i < 6; i++) results.push(await storage.store(testJpeg(`cli verify ${i}`, 8000)))
    const bytes = await readFile(results[0]!.path)
    bytes[4000] = bytes[4000]! ^ 1
    await writeFile(results[0]!.path, bytes)
    await truncate(results[1]!.path, 3000)
    await mkdir(join(root, 'ff', 'ff'), { recursive: true })
    await rename(results[2]!.path, join(root, 'ff', 'ff', `${results[2]!.hash}.jpg`))
    await writeFile(join(root, '.tmp', 'stray.tmp'), 'x')
    await utimes(join(root, '.tmp', 'stray.tmp'), new Date(0), new Date(0))

    const found = cli(['verify', '--json'], env)
    expect(found.code).toBe(1)
    const reasons = JSON.parse(found.stdout)
      .problems.map((p: { reason: string }) => p.reason)
      .sort()
    // the frame in another shard folder is intact: misplaced, not misnamed
    expect(reasons).toEqual(['corrupt', 'misplaced', 'stray-temp', 'truncated'])
    // two frames are quarantined (lost from the store): the repair is not clean, and says so; the
    // misplaced one is moved into place (counted as made whole)
    const repaired = cli(['verify', '--repair', '--json'], env)
    expect(repaired.code).toBe(1)
    expect(JSON.parse(repaired.stdout)).toMatchObject({ clean: false, quarantined: 2, removed: 1, restored: 1 })
    expect(await readFile(results[2]!.path)).toEqual(testJpeg('cli verify 2', 8000)) // back in its place, whole
    const after = cli(['verify'], env)
    expect(after).toMatchObject({ code: 0 })
    expect(after.stdout).toContain('4 objects checked')
    expect(after.stdout).toContain('clean')
    expect(after.stdout).toContain('quarantine: 2 objects')
  })

  it(
    'import without options writes a default mapping in the working folder, names it, and resumes from ' + 'it',
    async () => {
      const { dir, files } = await dashboardTree(12)
      const root = await tempDir()
      const cwd = await tempDir()
      const first = cli(
        ['import', '--min-age', '0s', join(dir, 'original')],
        { SAI_IMAGE_STORAGE_PATH: root },
        undefined,
        cwd
      )
      expect(first.code).toBe(0)
      const named = /mapping: (\S+)/.exec(first.stdout)?.[1]
      expect(named).toMatch(/^sai-images-import-original-[0-9a-f]{8}\.jsonl$/)
      expect(await items(join(cwd, named!))).toHaveLength(files.size)
      const second = JSON.parse(
        cli(
          ['import', '--min-age', '0s', join(dir, 'original'), '--json'],
          { SAI_IMAGE_STORAGE_PATH: root },
          undefined,
          cwd
        ).stdout
      )
      expect(second).toMatchObject({ total: files.size, done: 0, skipped: files.size, mapping: named })
      // another tree of the same name gets a mapping of its own, so nothing of it is skipped
      const other = await dashboardTree(3)
      const third = JSON.parse(
        cli(
          ['import', '--min-age', '0s', join(other.dir, 'original'), '--json'],
          { SAI_IMAGE_STORAGE_PATH: root },
          undefined,
          cwd
        ).stdout
      )
      expect(third.mapping).not.toBe(named)
      expect(third).toMatchObject({ total: 3, skipped: 0 })
    }
  )

  it('import writes a complete mapping, and a second run skips the finished work', async () => {
    const { dir, files } = await dashboardTree(60)
    const root = await tempDir()
    const mapping = join(await tempDir(), 'map.jsonl')
    const first = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json', '--concurrency', '8'], {
      SAI_IMAGE_STORAGE_PATH: root
    })
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({ total: 60, done: 60, skipped: 0, interrupted: false })
    await expectCompleteImport(files, mapping, root)
    const duplicates = (await lines(mapping)).map(l => JSON.parse(l)).filter(e => e.duplicate)
    expect(duplicates.length).toBeGreaterThan(0) // frames sent twice are stored once
    const second = JSON.parse(
      cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json'], { SAI_IMAGE_STORAGE_PATH: root }).stdout
    )
    expect(second).toMatchObject({ total: 60, done: 0, skipped: 60 })
    expect(await items(mapping)).toHaveLength(60)
  })

  it.each(['SIGINT', 'SIGKILL'] as const)(
    'import interrupted with %s, then resumed, ends complete and verified',
    async signal => {
      const { dir, files } = await dashboardTree(1500)
      const root = await tempDir()
      const mapping = join(await tempDir(), 'map.jsonl')
      const env = { SAI_IMAGE_STORAGE_PATH: root }
      const stopped = await interrupt(
        ['import', '--min-age', '0s', dir, '--mapping', mapping, '--json', '--concurrency', '2'],
        env,
        mapping,
        100,
        signal
      )
      expect(stopped.itemsAtSignal).toBeGreaterThanOrEqual(100)
      if (signal === 'SIGINT') {
        expect(stopped.code).toBe(130)
        const summary = JSON.parse(stopped.stdout)
        expect(summary).toMatchObject({ interrupted: true })
        expect(summary.done).toBeLessThan(1500)
        expect((await items(mapping)).length).toBe(summary.done)
      } else {
        expect(stopped.signalCode).toBe('SIGKILL')
      }
      // every line written is whole and names a stored object
      for (const line of await lines(mapping)) expect(() => JSON.parse(line)).not.toThrow()
      const resumed = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--json', '--concurrency', '8'], env)
      expect(resumed.code).toBe(0)
      const summary = JSON.parse(resumed.stdout)
      expect(summary.skipped).toBeGreaterThanOrEqual(100)
      expect(summary.skipped + summary.done).toBe(1500)
      await expectCompleteImport(files, mapping, root, signal === 'SIGKILL' ? 2 : 0)
    },
    180_000
  )

  it('import drops a torn last line left by a kill mid-write', async () => {
    const { dir, files } = await dashboardTree(20)
    const root = await tempDir()
    const mapping = join(await tempDir(), 'map.jsonl')
    expect(cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { SAI_IMAGE_STORAGE_PATH: root }).code).toBe(0)
    const text = await readFile(mapping, 'utf8')
    const kept = text.split('\n').slice(0, 10).join('\n') + '\n'
    await writeFile(mapping, kept + text.split('\n')[10]!.slice(0, 25)) // ten whole lines and a torn one
    expect(cli(['import', '--min-age', '0s', dir, '--mapping', mapping], { SAI_IMAGE_STORAGE_PATH: root }).code).toBe(0)
    await expectCompleteImport(files, mapping, root)
  })

  it.each(['SIGINT', 'SIGKILL'] as const)(
    'migrate to another store: dry run, interrupted by %s, resumed, verified on the target',
    async signal => {
      const { dir } = await dashboardTree(400)
      const from = await tempDir()
      const to = await tempDir()
      const mapping = join(await tempDir(), 'migrate.jsonl')
      expect(
        cli(['import', '--min-age', '0s', dir, '--mapping', join(await tempDir(), 'import.jsonl')], {
          SAI_IMAGE_STORAGE_PATH: from
        }).code
      ).toBe(0)
      const source = new FilesystemDriver({ root: from })
      const hashes = new Set<string>()
      for await (const entry of source.list()) hashes.add(entry.hash)
      expect(hashes.size).toBeGreaterThan(300)

      const args = [
        'migrate',
        '--from',
        'fs',
        '--to',
        'fs',
        '--root',
        from,
        '--to-root',
        to,
        '--mapping',
        mapping,
        '--json'
      ]
      const dry = JSON.parse(cli([...args, '--dry-run']).stdout)
      expect(dry).toMatchObject({
        dryRun: true,
        wouldCopy: hashes.size,
        alreadyCopied: 0,
        wouldCopyBytes: hashes.size * 20_000
      })
      expect(await lines(mapping)).toEqual([])

      const stopped = await interrupt([...args, '--concurrency', '1'], {}, mapping, 40, signal)
      if (signal === 'SIGINT') {
        expect(stopped.code).toBe(130)
        expect(JSON.parse(stopped.stdout)).toMatchObject({ interrupted: true, done: (await items(mapping)).length })
      } else {
        expect(stopped.signalCode).toBe('SIGKILL')
      }
      const resumed = cli(args)
      expect(resumed.code).toBe(0)
      const entries = await items(mapping)
      expect(entries).toHaveLength(hashes.size)
      expect(new Set(entries.map(e => e.sha256))).toEqual(hashes)
      const target = new FilesystemDriver({ root: to })
      expect((await target.verify()).problems).toEqual([])
      for (const entry of entries) expect(entry.path).toBe(target.pathOf(entry.hash))
    },
    120_000
  )
})

describe("sai-images on an operator's mistakes: a documented exit code and one line, no stack", () => {
  it('answers each mistake with its exit code and a one-line message', async () => {
    const root = await tempDir()
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const dir = await tempDir()
    const file = join(dir, 'frame.jpg')
    await writeFile(file, testJpeg('mistakes'))
    const missing = join(dir, 'no-such-dir')
    const cases: Array<[string[], number, RegExp]> = [
      [['store', dir], 3, /ERR_INVALID_INPUT.*not a regular file but a directory/],
      [['import', missing], 3, /ERR_INVALID_INPUT.*no such file or directory/],
      [['import', file], 3, /ERR_INVALID_INPUT.*a part of the path is not a directory|ENOTDIR/],
      [['import', '--min-age', '0s', dir, '--mapping', join(missing, 'map.jsonl')], 3, /ERR_INVALID_INPUT.*mapping/],
      [
        [
          'fetch',
          (await new FilesystemDriver({ root }).store(testJpeg('mistakes'))).hash,
          '-o',
          join(missing, 'out.jpg')
        ],
        3,
        /ERR_INVALID_INPUT.*Cannot write/
      ],
      [['verify', '--bogus'], 2, /Unknown option|takes no/],
      [['stat'], 2, /missing <ref>/],
      [['frobnicate'], 2, /unknown command/]
    ]
    for (const [args, code, message] of cases) {
      const result = cli(args, env)
      expect({ args, code: result.code }).toEqual({ args, code })
      expect(result.stderr).toMatch(message)
      expect(result.stderr).not.toMatch(/\n\s+at /) // no stack
      // the message on one line, and for usage errors the usage (a long one wrapped, its continuations indented)
      const [, usage, ...more] = result.stderr.split('\n').filter(l => l !== '')
      if (code === 2) expect(usage).toMatch(/^Usage: sai-images /)
      for (const line of more) expect(line).toMatch(/^ {20,}\[/)
    }
    expect(cli(['store', dir, '--verbose'], env).stderr).toMatch(/\n\s+at /) // --verbose shows it
  })

  it('--version, help <command>, and the usage line', () => {
    expect(cli(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    const help = cli(['help', 'import'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^Usage: sai-images import <dir>/)
    expect(help.stdout).toContain('--follow-symlinks')
    const wrong = cli(['import'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('Usage: sai-images import <dir>')
    expect(wrong.stderr.length).toBeLessThan(300) // a line, not the whole help
  })

  it(
    'fetch of a damaged object into a pipe writes zero bytes and exits 4; a reader that goes away is no ' + 'error',
    async () => {
      const root = await tempDir()
      const storage = new FilesystemDriver({ root })
      const damaged = await storage.store(testJpeg('damaged for stdout', 1_500_000))
      const bytes = await readFile(damaged.path)
      bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 1
      await writeFile(damaged.path, bytes)
      const result = cli(['fetch', damaged.hash], { SAI_IMAGE_STORAGE_PATH: root })
      expect({ code: result.code, bytes: result.bytes.length }).toEqual({ code: 4, bytes: 0 })
      const good = await storage.store(testJpeg('good for head', 2_000_000))
      const piped = spawnSync(
        'sh',
        ['-c', `node ${CLI} fetch ${good.hash} | head -c 10 | wc -c; exit \${PIPESTATUS:-0}`],
        { env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root }, encoding: 'utf8' }
      )
      expect(piped.stdout.trim()).toBe('10')
      expect(piped.stderr).toBe('') // no EPIPE, no stack
    }
  )

  it('migrate refuses a target that is the source store', async () => {
    const root = await tempDir()
    await new FilesystemDriver({ root }).store(testJpeg('self'))
    const mapping = join(await tempDir(), 'self.jsonl')
    for (const extra of [[], ['--to-root', root], ['--to-root', `${root}/./`]]) {
      const result = cli(['migrate', '--from', 'fs', '--to', 'fs', '--root', root, '--mapping', mapping, ...extra], {
        SAI_IMAGE_STORAGE_PATH: root
      })
      expect(result.code).toBe(2)
      expect(result.stderr).toContain('the target is the source store')
    }
    expect(await lines(mapping)).toEqual([])
  })

  it('import reports symbolic links as skipped, and follows them with --follow-symlinks', async () => {
    const { dir, files } = await dashboardTree(4)
    const outside = await tempDir()
    await writeFile(join(outside, 'linked.jpg'), testJpeg('linked frame'))
    await symlink(join(outside, 'linked.jpg'), join(dir, 'original', 'link.jpg'))
    await symlink(join(dir, 'original'), join(dir, 'original', 'loop')) // a loop: read once
    const root = await tempDir()
    const skipped = JSON.parse(
      cli(['import', '--min-age', '0s', dir, '--mapping', join(await tempDir(), 'a.jsonl'), '--json'], {
        SAI_IMAGE_STORAGE_PATH: root
      }).stdout
    )
    expect(skipped).toMatchObject({ total: files.size, symlinks: ['original/link.jpg', 'original/loop'] })
    const followed = JSON.parse(
      cli(
        [
          'import',
          '--min-age',
          '0s',
          dir,
          '--mapping',
          join(await tempDir(), 'b.jsonl'),
          '--json',
          '--follow-symlinks'
        ],
        {
          SAI_IMAGE_STORAGE_PATH: root
        }
      ).stdout
    )
    expect(followed).toMatchObject({ total: files.size + 1, symlinks: [], failed: [] })
  })
})
