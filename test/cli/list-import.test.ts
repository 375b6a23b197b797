// `sai-images list`, streamed in SHA-256 order; `import --exclude`, and a file that is not an image
// reported once, not a failure, and passed over by later runs.
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli, CLI } from './run.js'

async function storeOf(count: number): Promise<{ env: Record<string, string>; root: string; hashes: string[] }> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const hashes = []
  for (let i = 0; i < count; i++) hashes.push((await storage.store(testJpeg(`list ${root} ${i}`, 3000 + i))).hash)
  return { env: { SAI_IMAGE_STORAGE_PATH: root }, root, hashes: hashes.sort() }
}

describe('sai-images list', () => {
  it('prints every object in SHA-256 order, with its size and last store; the count and store on stderr', async () => {
    const { env, root, hashes } = await storeOf(5)
    const run = cli(['list'], { env })
    expect(run.code).toBe(0)
    const rows = run.stdout
      .trim()
      .split('\n')
      .map(line => line.split(' '))
    expect(rows.map(r => r[0])).toEqual(hashes)
    for (const [, size, time] of rows) {
      expect(Number(size)).toBeGreaterThanOrEqual(3000)
      expect(Date.parse(time!)).toBeGreaterThan(Date.now() - 120_000)
    }
    expect(run.stderr).toBe(`5 listed; store: ${root}\n`)
  })

  it('--json prints one object per line; --prefix, --after and --limit page through the store', async () => {
    const { env, hashes } = await storeOf(6)
    const lines = cli(['list', '--json'], { env })
      .stdout.trim()
      .split('\n')
      .map(line => JSON.parse(line))
    expect(lines.map(l => l.sha256)).toEqual(hashes)
    expect(lines[0]).toEqual({
      hash: hashes[0],
      sha256: hashes[0],
      key: expect.stringMatching(/\.jpg$/),
      size: expect.any(Number),
      lastStoredAt: expect.any(String)
    })
    const page = (args: string[]): string[] =>
      cli(['list', '--json', ...args], { env })
        .stdout.trim()
        .split('\n')
        .filter(Boolean)
        .map(line => JSON.parse(line).sha256)
    expect(page(['--limit', '2'])).toEqual(hashes.slice(0, 2))
    expect(page(['--after', hashes[1]!, '--limit', '2'])).toEqual(hashes.slice(2, 4))
    expect(page(['--after', hashes[5]!])).toEqual([])
    expect(page(['--prefix', hashes[3]!.slice(0, 6)])).toEqual([hashes[3]])
    expect(page(['--prefix', hashes[3]!.slice(0, 6).toUpperCase()])).toEqual([hashes[3]])
  })

  it('a reader that stops early ends it quietly; mistakes are usage errors', async () => {
    const { env } = await storeOf(40)
    const piped = spawnSync('sh', ['-c', `node ${CLI} list | head -n 1`], {
      env: { ...process.env, ...env },
      encoding: 'utf8'
    })
    expect(piped.stdout.trim()).toMatch(/^[0-9a-f]{64} \d+ \S+$/)
    expect(piped.stderr).not.toMatch(/EPIPE|Error/)
    for (const args of [
      ['--prefix', 'xyz'],
      ['--after', 'abc'],
      ['--limit', '0'],
      ['--limit', 'many']
    ]) {
      const run = cli(['list', ...args, '--json'], { env })
      expect({ args, code: run.code }).toEqual({ args, code: 2 })
      expect(answer(run).error.code).toBe('ERR_USAGE')
    }
  })
})

describe('import: --exclude, and files that are not images', () => {
  async function tree(): Promise<string> {
    const dir = await tempDir('sai-tree')
    await mkdir(join(dir, 'original/1'), { recursive: true })
    await mkdir(join(dir, 'thumbs/1'), { recursive: true })
    await writeFile(join(dir, 'original/1/1001.jpg'), testJpeg(`${dir} 1001`))
    await writeFile(join(dir, 'original/1/1002.jpg'), testJpeg(`${dir} 1002`))
    await writeFile(join(dir, 'original/1/.DS_Store'), 'finder')
    await writeFile(join(dir, 'original/notes.txt'), 'a note')
    await writeFile(join(dir, 'thumbs/1/1001.jpg'), testJpeg(`${dir} thumb`))
    return dir
  }

  it('--exclude takes names at any depth and paths from the folder, repeated; the summary counts them', async () => {
    const dir = await tree()
    const root = await tempDir()
    const run = cli(
      [
        'import',
        '--min-age',
        '0s',
        dir,
        '--mapping',
        join(await tempDir(), 'map.jsonl'),
        '--exclude',
        '.DS_Store',
        '--exclude',
        '*.txt',
        '--exclude',
        'thumbs/**',
        '--json'
      ],
      { env: { SAI_IMAGE_STORAGE_PATH: root } }
    )
    expect(run.code).toBe(0)
    expect(answer(run)).toMatchObject({ total: 2, done: 2, excluded: 3, notImages: [], failed: [] })
    const text = cli(
      [
        'import',
        '--min-age',
        '0s',
        dir,
        '--mapping',
        join(await tempDir(), 'm.jsonl'),
        '--exclude',
        '.DS_Store',
        '--exclude',
        '*.txt'
      ],
      { env: { SAI_IMAGE_STORAGE_PATH: root } }
    )
    expect(text.stdout).toContain('excluded: 2 files')
  })

  it('--exclude thumbs/ (a trailing slash, as .gitignore writes a folder) leaves out the folder at any depth, not nothing', async () => {
    const dir = await tree()
    await mkdir(join(dir, 'original/thumbs'), { recursive: true })
    await writeFile(join(dir, 'original/thumbs/1001.jpg'), testJpeg(`${dir} deep thumb`))
    await writeFile(join(dir, 'original/1/thumbs'), testJpeg(`${dir} a file named thumbs`))
    const [maps, root] = [await tempDir(), await tempDir()]
    const run = (...exclude: string[]) =>
      answer(
        cli(
          [
            'import',
            '--min-age',
            '0s',
            dir,
            '--mapping',
            join(maps, `${exclude.length}.jsonl`),
            '--json',
            '--allow-non-image',
            ...exclude
          ],
          {
            env: { SAI_IMAGE_STORAGE_PATH: root }
          }
        )
      )
    // the two thumbs folders go; a file called thumbs is no folder and stays
    expect(run('--exclude', 'thumbs/', '--exclude', '.DS_Store', '--exclude', '*.txt')).toMatchObject({
      done: 3,
      excluded: 4,
      failed: []
    })
    // anchored: only the thumbs folder at the top
    expect(run('--exclude', '/thumbs/')).toMatchObject({ done: 6, excluded: 1 })
  })

  it('a file that is not an image is reported once and recorded; reruns pass over it and exit 0', async () => {
    const dir = await tree()
    const root = await tempDir()
    const mapping = join(await tempDir(), 'map.jsonl')
    const env = { SAI_IMAGE_STORAGE_PATH: root }
    const first = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--exclude', 'thumbs/**', '--json'], {
      env
    })
    expect(first.code).toBe(0)
    expect(answer(first)).toMatchObject({
      total: 4,
      failed: [],
      notImages: ['original/1/.DS_Store', 'original/notes.txt']
    })
    // recorded beside the mapping, which holds its own first line and mappings only (each with a hash)
    const recorded = (await readFile(`${mapping}.not-images.jsonl`, 'utf8'))
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
    expect(recorded.map(line => line.source).sort()).toEqual(['original/1/.DS_Store', 'original/notes.txt'])
    const mapped = (await readFile(mapping, 'utf8'))
      .trim()
      .split('\n')
      .map(line => JSON.parse(line))
    expect(Object.keys(mapped[0])).toEqual(['mapping'])
    expect(mapped.slice(1).map(line => typeof line.hash)).toEqual(['string', 'string'])
    const second = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--exclude', 'thumbs/**', '--json'], {
      env
    })
    expect(second.code).toBe(0)
    expect(answer(second)).toMatchObject({ total: 4, skipped: 4, done: 0, failed: [], notImages: [] })
    const text = cli(['import', '--min-age', '0s', dir, '--mapping', mapping, '--exclude', 'thumbs/**'], { env })
    expect(text.code).toBe(0)
    expect(text.stdout).not.toContain('not an image')
    // the frames were stored, the notes were not
    let stored = 0
    for await (const _ of new FilesystemDriver({ root }).list()) stored++
    expect(stored).toBe(2)
  })

  it('--allow-non-image stores such files too', async () => {
    const dir = await tree()
    const root = await tempDir()
    const run = cli(
      [
        'import',
        '--min-age',
        '0s',
        dir,
        '--mapping',
        join(await tempDir(), 'map.jsonl'),
        '--exclude',
        'thumbs/**',
        '--allow-non-image',
        '--json'
      ],
      { env: { SAI_IMAGE_STORAGE_PATH: root } }
    )
    expect(run.code).toBe(0)
    expect(answer(run)).toMatchObject({ total: 4, done: 4, notImages: [] })
    let stored = 0
    for await (const _ of new FilesystemDriver({ root }).list()) stored++
    expect(stored).toBe(4)
  })
})
