// Every argument is taken: store, exists, stat and fetch act on each operand with a result per item
// and the worst exit code; other commands refuse operands they would ignore, before doing anything;
// `delete` is guarded like prune.
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

async function setup(): Promise<{ env: Record<string, string>; root: string; files: string[]; dir: string }> {
  const root = await tempDir()
  const dir = await tempDir()
  const files = []
  for (let i = 0; i < 3; i++) {
    files.push(join(dir, `WEB${i}.jpg`))
    await writeFile(files[i]!, testJpeg(`operands ${root} ${i}`, 2500 + i))
  }
  return { env: { SAI_IMAGE_STORAGE_PATH: root }, root, files, dir }
}

const count = async (root: string): Promise<number> => {
  let n = 0
  for await (const _ of new FilesystemDriver({ root }).list()) n++
  return n
}

describe('several operands', () => {
  it(
    'store stores each file, a line each; one that fails makes the exit non-zero and the rest are ' + 'stored',
    async () => {
      const { env, root, files, dir } = await setup()
      await writeFile(join(dir, 'notes.txt'), 'not a frame')
      const run = cli(['store', files[0]!, join(dir, 'notes.txt'), files[1]!, files[2]!], { env })
      expect(run.code).toBe(3)
      expect(await count(root)).toBe(3)
      const lines = run.stdout.trim().split('\n')
      expect(lines[0]).toMatch(/WEB0\.jpg: [0-9a-f]{64} /)
      expect(lines[1]).toMatch(/notes\.txt: ERR_INVALID_INPUT: /)
      expect(run.stdout).toContain('3 of 4 stored, 1 failed')
      const json = answer(cli(['store', ...files, '--json'], { env }))
      expect(json).toMatchObject({ command: 'store', failed: 0, store: root })
      expect(json.results.map((r: { file: string; isDuplicate: boolean }) => [r.file, r.isDuplicate])).toEqual(
        files.map(f => [f, true])
      )
      const all = cli(['store', ...files], { env })
      expect(all.code).toBe(0)
    }
  )

  it('exists and stat answer for each ref; exists exits 1 if any is missing', async () => {
    const { env, files } = await setup()
    const hashes = files.map(file => answer(cli(['store', file, '--json'], { env })).hash as string)
    const missing = '0'.repeat(64)
    expect(cli(['exists', ...hashes], { env }).code).toBe(0)
    const some = cli(['exists', hashes[0]!, missing, hashes[1]!, '--json'], { env })
    expect(some.code).toBe(1)
    expect(answer(some).results).toEqual([
      { ref: hashes[0], exists: true },
      { ref: missing, exists: false },
      { ref: hashes[1], exists: true }
    ])
    const stats = cli(['stat', hashes[0]!, hashes[2]!, '--json'], { env })
    expect(stats.code).toBe(0)
    expect(answer(stats).results.map((r: { sha256: string }) => r.sha256)).toEqual([hashes[0], hashes[2]])
    const bad = cli(['stat', hashes[0]!, missing], { env })
    expect(bad.code).toBe(1)
    expect(bad.stdout).toContain(`${missing}: ERR_NOT_FOUND`)
    expect(bad.stdout).toMatch(new RegExp(`\\nsha256 +${hashes[0]}\\n`))
  })

  it(
    'fetch -o DIR writes DIR/<hash>.<ext> for each ref; several refs need a folder; -o "" is a usage ' + 'error',
    async () => {
      const { env, files } = await setup()
      const hashes = files.map(file => answer(cli(['store', file, '--json'], { env })).hash as string)
      const out = await tempDir()
      const run = cli(['fetch', ...hashes, '-o', out], { env })
      expect(run.code).toBe(0)
      expect((await readdir(out)).sort()).toEqual(hashes.map(h => `${h}.jpg`).sort())
      for (const [i, hash] of hashes.entries())
        expect((await readFile(join(out, `${hash}.jpg`))).equals(await readFile(files[i]!))).toBe(true)
      // one ref into an existing folder (was ERR_INTERNAL, exit 70)
      const one = await tempDir()
      const single = cli(['fetch', hashes[1]!, '-o', one, '--json'], { env })
      expect(single.code).toBe(0)
      expect(answer(single).written).toBe(join(one, `${hashes[1]}.jpg`))
      const missing = cli(['fetch', hashes[0]!, '0'.repeat(64), '-o', await tempDir()], { env })
      expect(missing.code).toBe(1)
      for (const args of [['-o', ''], [], ['-o', join(out, 'file.jpg')]]) {
        const refused = cli(['fetch', ...hashes.slice(0, 2), ...args, '--json'], { env })
        expect(refused.code, args.join(' ')).toBe(2)
        // without -o, standard output is for bytes: the answer goes to standard error
        expect(answer(refused, args.length === 0 ? 'stderr' : 'stdout').error.code).toBe('ERR_USAGE')
      }
      const empty = cli(['fetch', hashes[0]!, '-o', '', '--json'], { env })
      expect(empty.code).toBe(2)
      expect(answer(empty).error.message).toMatch(/-o needs a value, not an empty one/)
    }
  )

  it('commands that take fewer operands refuse the rest before doing anything (exit 2)', async () => {
    const { env, root, dir } = await setup()
    const other = await tempDir()
    await mkdir(join(other, '1'))
    await writeFile(join(other, '1/5.jpg'), testJpeg(`operands other ${other}`))
    const mapping = join(await tempDir(), 'm.jsonl')
    const imported = cli(['import', '--min-age', '0s', dir, other, '--mapping', mapping, '--json'], { env })
    expect(imported.code).toBe(2)
    expect(answer(imported).error.message).toMatch(
      /import takes one operand: .* would be left out \(run import once per folder/
    )
    expect(existsSync(mapping)).toBe(false)
    expect(await count(root)).toBe(0)
    for (const args of [
      ['list', 'extra'],
      ['verify', 'now'],
      ['stats', 'x'],
      ['prune', '--older-than', '1d', 'x'],
      ['whereis', '0'.repeat(64), 'x'],
      ['quarantine', 'list', 'x']
    ]) {
      const run = cli([...args, '--json'], { env })
      expect(run.code, args.join(' ')).toBe(2)
      expect(answer(run).error.code).toBe('ERR_USAGE')
    }
  })

  it('help takes one command: a word after it is refused (exit 2), as for every command', () => {
    const run = cli(['help', 'prune', 'extra', '--json'])
    expect(run.code).toBe(2)
    expect(answer(run).error.message).toMatch(/^help takes one command: extra would be left out/)
    expect(cli(['help', 'prune']).code).toBe(0)
    expect(cli(['prune', '--help']).code).toBe(0)
  })
})

describe('delete', () => {
  it('deletes each ref but the protected ones; --dry-run deletes nothing; a missing ref exits 1', async () => {
    const { env, root, files } = await setup()
    const hashes = files.map(file => answer(cli(['store', file, '--json'], { env })).hash as string)
    const keep = join(await tempDir(), 'keep.txt')
    await writeFile(keep, `# training set\n${hashes[1]!.toUpperCase()}\n`)
    const dry = cli(['delete', ...hashes, '--keep-file', keep, '--dry-run', '--json'], { env })
    expect(dry.code).toBe(1) // the protected one
    expect(answer(dry).results.map((r: { action: string }) => r.action)).toEqual([
      'would delete',
      'protected',
      'would delete'
    ])
    expect(await count(root)).toBe(3)
    const real = cli(['delete', hashes[0]!, hashes[1]!, '0'.repeat(64), '--keep-file', keep], { env })
    expect(real.code).toBe(1)
    expect(real.stdout).toContain(`${hashes[0]}: deleted`)
    expect(real.stdout).toContain(`${hashes[1]}: protected`)
    expect(real.stdout).toContain(`${'0'.repeat(64)}: ERR_NOT_FOUND`)
    const storage = new FilesystemDriver({ root })
    expect(await storage.exists(hashes[0]!)).toBe(false)
    expect(await storage.exists(hashes[1]!)).toBe(true)
    const last = cli(['delete', hashes[2]!, '--json'], { env })
    expect(last.code).toBe(0)
    expect(answer(last)).toMatchObject({
      command: 'delete',
      failed: 0,
      results: [{ ref: hashes[2], action: 'deleted' }]
    })
    expect(await count(root)).toBe(1)
    expect(cli(['delete'], { env }).code).toBe(2)
  })
})
