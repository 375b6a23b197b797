// A dry run speaks in the conditional (wouldDelete, wouldFree), deletes nothing, and names the limit
// that chose each object; the real run then deletes exactly what it said.
import { readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { sha256ToCid } from '../../src/core/ref.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

const DAY = 86_400_000

/** Four frames of 1000, 2000, 3000 and 4000 bytes, last stored 40, 30, 20 and 10 days ago. */
async function agedStore(): Promise<{
  env: Record<string, string>
  root: string
  frames: Array<{ hash: string; size: number }>
}> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const frames = []
  for (const [i, days] of [40, 30, 20, 10].entries()) {
    const result = await storage.store(testJpeg(`prune ${root} ${i}`, 1000 * (i + 1)))
    const when = new Date(Date.now() - days * DAY)
    await utimes(result.path, when, when)
    frames.push({ hash: result.hash, size: result.size })
  }
  return { env: { SAI_IMAGE_STORAGE_PATH: root }, root, frames }
}

async function count(root: string): Promise<number> {
  let n = 0
  for await (const _ of new FilesystemDriver({ root }).list()) n++
  return n
}

describe('prune --dry-run', () => {
  it('--json: deleted 0, and wouldDelete / wouldFree for what would go, by the limit that chose it', async () => {
    const { env, root } = await agedStore()
    const dry = cli(['prune', '--older-than', '25d', '--dry-run', '--json'], { env })
    expect(dry.code).toBe(0)
    expect(answer(dry)).toMatchObject({
      command: 'prune',
      dryRun: true,
      deleted: 0,
      bytesFreed: 0,
      wouldDelete: 2,
      wouldFree: 3000,
      chosenByAge: 2,
      chosenByBudget: 0,
      examined: 4,
      kept: 2,
      store: root
    })
    expect(await count(root)).toBe(4)
    // with both limits: the old ones by age, then the oldest until the budget holds
    const both = answer(cli(['prune', '--older-than', '25d', '--max-bytes', '4000B', '--dry-run', '--json'], { env }))
    expect(both).toMatchObject({
      deleted: 0,
      wouldDelete: 3,
      wouldFree: 6000,
      chosenByAge: 2,
      chosenByBudget: 1,
      kept: 1
    })
    // the real run deletes what the dry run said
    const real = cli(['prune', '--older-than', '25d', '--json'], { env })
    expect(answer(real)).toMatchObject({ dryRun: false, deleted: 2, bytesFreed: 3000, chosenByAge: 2 })
    expect(await count(root)).toBe(2)
  })

  it('the text says "would delete" and names only the limits given', async () => {
    const { env, root } = await agedStore()
    const budget = cli(['prune', '--max-bytes', '7000B', '--dry-run'], { env })
    expect(budget.code).toBe(0)
    const [head, kept] = budget.stdout.split('\n')
    expect(head).toMatch(
      new RegExp(
        String.raw`^dry run: would delete 2 objects of 4 \(2 by the budget, last stored \S+ to \S+\), ` +
          String.raw`freeing 2\.9 KiB; nothing was deleted$`
      )
    )
    expect(head).not.toMatch(/by age/)
    expect(kept).toMatch(/^kept: 2 within --max-bytes, /)
    expect(kept).not.toMatch(/--older-than|by age/)
    expect(budget.stdout).not.toMatch(/\bdeleted 2\b/)
    const age = cli(['prune', '--older-than', '35d', '--dry-run'], { env }).stdout
    expect(age).toMatch(/^dry run: would delete 1 object of 4 \(1 by age, /)
    expect(age).toMatch(/kept: 3 younger than --older-than, /)
    expect(age).not.toMatch(/budget|--max-bytes/)
    expect(await count(root)).toBe(4)
  })

  it('--list F writes each candidate: sha256, size, last store, and the limit that chose it', async () => {
    const { env, frames } = await agedStore()
    const list = join(await tempDir(), 'candidates.txt')
    const run = cli(['prune', '--older-than', '25d', '--max-bytes', '4000B', '--dry-run', '--list', list], { env })
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`listed in ${list}`)
    const lines = (await readFile(list, 'utf8'))
      .trim()
      .split('\n')
      .map(line => line.split(' '))
    const byHash = (a: unknown[], b: unknown[]): number => String(a[0]).localeCompare(String(b[0]))
    expect(lines.map(([hash, size, , limit]) => [hash, Number(size), limit]).sort(byHash)).toEqual(
      [
        [frames[0]!.hash, 1000, 'age'],
        [frames[1]!.hash, 2000, 'age'],
        [frames[2]!.hash, 3000, 'budget']
      ].sort(byHash)
    )
    for (const [, , time] of lines) expect(Number.isNaN(Date.parse(time!))).toBe(false)
    expect(cli(['prune', '--older-than', '1d', '--list', list], { env })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--list writes what a --dry-run would delete')
    })
  })
})

describe('keep files are strict', () => {
  it('a key path (any shard depth) and an upper-case hash protect their frames', async () => {
    const { env, root, frames } = await agedStore()
    const keep = join(await tempDir('sai-out'), 'keep-keys.txt')
    const key = `${frames[0]!.hash.slice(0, 2)}/${frames[0]!.hash.slice(2, 4)}/${frames[0]!.hash}.jpg`
    const h = frames[1]!.hash
    const deep = `${h.slice(0, 1)}/${h.slice(1, 3)}/${h.slice(3, 4)}/${h}.jpg`
    await writeFile(keep, `# frames with detections\n\n${key}\n${deep}\n${frames[2]!.hash.toUpperCase()}\n`)
    const run = cli(['prune', '--older-than', '5d', '--keep-file', keep, '--json'], { env })
    expect(run.code).toBe(0)
    expect(answer(run)).toMatchObject({ deleted: 1, protected: 3 })
    expect(await count(root)).toBe(3)
  })

  for (const [label, line] of [
    ['a 63-hex line', 'a'.repeat(63)],
    ['junk', 'zzz'],
    ['a key whose folders do not match its hash', `00/00/${'ab'.repeat(32)}.jpg`]
  ]) {
    it(`${label} stops the prune before it deletes anything (exit 2, the line number and the line)`, async () => {
      const { env, root, frames } = await agedStore()
      const keep = join(await tempDir('sai-out'), 'keep-bad.txt')
      await writeFile(keep, `${frames[0]!.hash}\n${line}\n`)
      const run = cli(['prune', '--older-than', '5d', '--keep-file', keep], { env })
      expect(run.code).toBe(2)
      expect(run.stderr).toContain(`${keep}:2: ${JSON.stringify(line)}`)
      expect(run.stderr).toContain('--keep-file-lenient')
      expect(await count(root)).toBe(4)
      const json = cli(['prune', '--older-than', '5d', '--keep-file', keep, '--json'], { env })
      expect(json.code).toBe(2)
      expect(answer(json).error.message).toContain('nothing was deleted')
      // told to go on: the line is skipped, and said; the frame it failed to name is not protected
      const lenient = cli(['prune', '--older-than', '5d', '--keep-file', keep, '--keep-file-lenient', '--json'], {
        env
      })
      expect(lenient.code).toBe(0)
      expect(answer(lenient)).toMatchObject({
        deleted: 3,
        protected: 1,
        keepFileSkipped: expect.stringContaining('1 line skipped')
      })
    })
  }

  it('a CID of the frame protects it on a filesystem store: its raw CIDv1 in base32, and the same in base58', async () => {
    const { env, root, frames } = await agedStore()
    const keep = join(await tempDir('sai-out'), 'keep-cids.txt')
    const [first, second] = frames.map(f => CID.parse(sha256ToCid(f.hash)))
    await writeFile(keep, `${first!.toString()}\n${second!.toString(base58btc)}\n`)
    const run = cli(['prune', '--older-than', '5d', '--keep-file', keep, '--json'], { env })
    expect(run.code).toBe(0)
    expect(answer(run)).toMatchObject({ deleted: 2, protected: 2 })
    expect(await count(root)).toBe(2)
  })

  it('a keep file or query that names no object at all stops the prune (exit 2), unless --allow-empty-keep', async () => {
    const { env, root } = await agedStore()
    const empty = join(await tempDir('sai-out'), 'keep-empty.txt')
    await writeFile(empty, '# an export that failed after its header\n')
    const run = cli(['prune', '--older-than', '5d', '--keep-file', empty], { env })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--allow-empty-keep')
    expect(await count(root)).toBe(4)
    const allowed = cli(['prune', '--older-than', '5d', '--keep-file', empty, '--allow-empty-keep', '--json'], { env })
    expect(allowed.code).toBe(0)
    expect(answer(allowed)).toMatchObject({ deleted: 4, protected: 0 })
  })

  it('evict takes the same keep files, as strictly', async () => {
    const root = await tempDir()
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir()
    }
    const keep = join(await tempDir('sai-out'), 'evict-keep.txt')
    await writeFile(keep, 'not a ref\n')
    expect(cli(['evict', '--older-than', '30d', '--keep-file', keep], { env })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining(':1: "not a ref"')
    })
  })
})
