// A repair that took a frame out of the store is never "clean"; what it took is listed, restored or
// purged on purpose; a fetch of it says where it went; a root that is not there is no clean store.
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

async function flipByte(path: string): Promise<void> {
  const bytes = await readFile(path)
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 1
  await writeFile(path, bytes)
}

/** A store of `count` frames, the first `damaged` of them with a flipped byte. */
async function damagedStore(
  count: number,
  damaged: number
): Promise<{
  root: string
  env: Record<string, string>
  frames: Array<{ hash: string; path: string; bytes: Buffer }>
}> {
  const root = await tempDir()
  const storage = new FilesystemDriver({ root })
  const frames = []
  for (let i = 0; i < count; i++) {
    const bytes = testJpeg(`repair ${root} ${i}`, 6000)
    frames.push({ ...(await storage.store(bytes)), bytes })
  }
  for (const frame of frames.slice(0, damaged)) await flipByte(frame.path)
  return { root, env: { SAI_IMAGE_STORAGE_PATH: root }, frames }
}

describe('verify --repair is honest about what it took out of the store', () => {
  it(
    'a repair that quarantined a frame exits 1, is not clean, and counts it as quarantined, not ' + 'repaired',
    async () => {
      const { root, env, frames } = await damagedStore(3, 1)
      const repaired = cli(['verify', '--repair', '--json'], { env })
      expect(repaired.code).toBe(1)
      const report = answer(repaired)
      expect(report).toMatchObject({
        clean: false,
        repaired: true,
        quarantined: 1,
        restored: 0,
        removed: 0,
        quarantine: { objects: 1, bytes: 6000 },
        store: root
      })
      expect(report.problems).toEqual([
        expect.objectContaining({
          reason: 'corrupt',
          action: 'quarantined',
          movedTo: expect.stringMatching(new RegExp(`/\\.quarantine/${frames[0]!.hash}\\.\\d+\\.corrupt$`))
        })
      ])
      // the text says the frame is lost, and where the quarantine is
      const text = cli(['verify', '--repair'], { env: { SAI_IMAGE_STORAGE_PATH: (await damagedStore(2, 1)).root } })
      expect(text.code).toBe(1)
      expect(text.stdout).toMatch(/1 problem: 0 restored, 1 quarantined \(lost from the store\), 0 removed/)
      expect(text.stdout).not.toMatch(/clean now/)
      expect(text.stdout).toMatch(/quarantine: 1 object/)
      // the next verify finds a clean store, and still reports the quarantine
      const after = cli(['verify', '--json'], { env })
      expect(after.code).toBe(0)
      expect(answer(after)).toMatchObject({ clean: true, checked: 2, quarantine: { objects: 1 } })
    }
  )

  it('a repair that only removed leftovers (a stray temp) is clean', async () => {
    const { root, env } = await damagedStore(2, 0)
    await writeFile(join(root, '.tmp', 'stray.tmp'), 'x')
    await utimes(join(root, '.tmp', 'stray.tmp'), new Date(0), new Date(0))
    const repaired = cli(['verify', '--repair', '--json'], { env })
    expect(repaired.code).toBe(0)
    expect(answer(repaired)).toMatchObject({
      clean: true,
      removed: 1,
      quarantined: 0,
      problems: [{ reason: 'stray-temp', action: 'removed' }]
    })
  })

  it('a fetch, stat or exists of a quarantined frame says so, and names the entry to restore', async () => {
    const { env, frames } = await damagedStore(1, 1)
    expect(cli(['verify', '--repair'], { env }).code).toBe(1)
    const fetched = cli(['fetch', frames[0]!.hash, '-o', join(await tempDir(), 'out.jpg'), '--json'], { env })
    expect(fetched.code).toBe(1)
    const error = answer(fetched).error
    expect(error.code).toBe('ERR_NOT_FOUND')
    expect(error.message).toMatch(
      new RegExp(
        `a repair quarantined it on .* \\(corrupt\\).*sai-images quarantine restore ${frames[0]!.hash}\\.\\d+\\.corrupt\` ` +
          'refuses its damaged bytes \\(--force puts them back anyway\\)'
      )
    )
    // its bytes are damaged: restore refuses them, and the hint says what else to do
    expect(error.message).toContain('(--force puts them back anyway): restore the frame from a replica or a backup')
    expect(cli(['stat', frames[0]!.hash], { env }).stderr).toContain('a repair quarantined it')
    const exists = cli(['exists', frames[0]!.hash], { env })
    expect(exists.code).toBe(1)
    expect(exists.stdout).toMatch(
      new RegExp(
        `^false \\(a repair quarantined it on .*sai-images quarantine restore ${frames[0]!.hash}\\.\\d+\\.corrupt`
      )
    )
    expect(answer(cli(['exists', frames[0]!.hash, '--json'], { env }))).toMatchObject({
      exists: false,
      quarantined: expect.stringMatching(/\.corrupt$/),
      hint: expect.stringContaining('quarantine restore')
    })
  })

  it('stats reports the quarantine', async () => {
    const { env } = await damagedStore(3, 2)
    cli(['verify', '--repair'], { env })
    const stats = cli(['stats', '--json'], { env })
    expect(answer(stats)).toMatchObject({ objects: 1, quarantine: { objects: 2, bytes: 12_000 } })
    expect(cli(['stats'], { env }).stdout).toMatch(/^quarantine: 2 objects, 11\.7 KiB$/m)
  })
})

describe('sai-images quarantine: list, restore, purge', () => {
  it('lists the entries, restores one under its name (fetch works again), refuses a second restore', async () => {
    const { root, env, frames } = await damagedStore(2, 1)
    cli(['verify', '--repair'], { env })
    const listed = answer(cli(['quarantine', '--json'], { env }))
    expect(listed).toMatchObject({
      objects: 1,
      bytes: 6000,
      store: root,
      entries: [{ sha256: frames[0]!.hash, size: 6000, reason: 'corrupt' }]
    })
    const [entry] = listed.entries
    expect(entry.id).toMatch(new RegExp(`^${frames[0]!.hash}\\.\\d+\\.corrupt$`))
    expect(Date.parse(entry.quarantinedAt)).toBeGreaterThan(Date.now() - 60_000)
    expect(cli(['quarantine', 'list'], { env }).stdout).toContain(entry.id)

    // its bytes do not match its name: refused, with why and what to do, unless --force
    const refusedRun = cli(['quarantine', 'restore', entry.id, '--json'], { env })
    expect(refusedRun.code).toBe(4)
    expect(answer(refusedRun)).toMatchObject({
      restored: [],
      refused: [entry.id],
      reasons: { [entry.id]: expect.stringContaining(`quarantine restore --force ${entry.id}`) }
    })
    expect(cli(['quarantine', 'restore', entry.id], { env }).stdout).toContain('do not match their name')
    const restored = cli(['quarantine', 'restore', '--force', entry.id, '--json'], { env })
    expect(restored.code).toBe(0)
    expect(answer(restored)).toEqual({ restored: [entry.id], refused: [], store: root })
    // the damaged bytes are back under their name: fetch refuses them, verify finds them again
    expect(cli(['fetch', frames[0]!.hash, '-o', join(await tempDir('sai-out'), 'x.jpg')], { env }).code).toBe(4)
    expect(cli(['verify'], { env }).code).toBe(1)
    const again = cli(['quarantine', 'restore', '--force', entry.id, '--json'], { env })
    expect(again.code).toBe(1)
    expect(answer(again)).toEqual({ restored: [], refused: [entry.id], store: root })
  })

  it('purges by id, and by age with --older-than; the files are gone', async () => {
    const { root, env } = await damagedStore(3, 3)
    cli(['verify', '--repair'], { env })
    const ids: string[] = answer(cli(['quarantine', '--json'], { env })).entries.map((e: { id: string }) => e.id)
    expect(ids).toHaveLength(3)
    const purged = cli(['quarantine', 'purge', ids[0]!, '--json'], { env })
    expect(answer(purged)).toEqual({ purged: [ids[0]], refused: [], store: root })
    expect(answer(cli(['quarantine', 'purge', '--older-than', '1d', '--json'], { env }))).toEqual({
      purged: [],
      refused: [],
      store: root
    })
    await new Promise(resolve => setTimeout(resolve, 1100))
    expect(answer(cli(['quarantine', 'purge', '--older-than', '1s', '--json'], { env })).purged.sort()).toEqual(
      ids.slice(1).sort()
    )
    expect(await readdir(join(root, '.quarantine'))).toEqual([])
    expect(answer(cli(['stats', '--json'], { env })).quarantine).toEqual({ objects: 0, bytes: 0 })
  })

  it('answers mistakes with a usage error', async () => {
    const { env } = await damagedStore(1, 0)
    expect(cli(['quarantine', 'frobnicate'], { env })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown action frobnicate')
    })
    expect(cli(['quarantine', 'restore'], { env })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('restore needs the ids')
    })
    expect(cli(['quarantine', '--driver', 'memory'], { env })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('keeps no quarantine')
    })
  })
})

describe('verify and stats on a root that does not exist', () => {
  it(
    'exit 1 and say why (a typo, an unmounted array), unless --allow-empty says an empty store is ' + 'expected',
    async () => {
      const typo = join(await tempDir(), 'imgaes')
      for (const command of ['verify', 'stats']) {
        const run = cli([command, '--root', typo])
        expect({ command, code: run.code }).toEqual({ command, code: 1 })
        expect(run.stdout).toContain('the root does not exist')
        expect(run.stdout).toContain('--allow-empty')
        expect(run.stdout).toContain(`store: ${typo}`)
        const json = cli([command, '--root', typo, '--json'])
        expect(json.code).toBe(1)
        expect(answer(json)).toMatchObject({
          rootExists: false,
          store: typo,
          ...(command === 'verify' ? { clean: false } : {})
        })
        const allowed = cli([command, '--root', typo, '--allow-empty', '--json'])
        expect({ command, code: allowed.code }).toEqual({ command, code: 0 })
        expect(answer(allowed)).toMatchObject({ rootExists: false, ...(command === 'verify' ? { clean: true } : {}) })
      }
      // list refuses too: "0 listed" would read as an empty store
      const listed = cli(['list', '--root', typo])
      expect(listed.code).toBe(1)
      expect(listed.stdout).toContain('the root does not exist')
      expect(answer(cli(['list', '--root', typo, '--json']))).toMatchObject({
        listed: 0,
        rootExists: false,
        store: typo
      })
      expect(cli(['list', '--root', typo, '--allow-empty']).code).toBe(0)
      // a script that reads the verdict is not told "clean" either
      expect(cli(['verify', '--root', typo]).stdout).toMatch(
        /^verify: 0 objects checked \(0 B\), 0 variants: nothing to check$/m
      )
      expect(cli(['verify', '--root', typo, '--allow-empty']).stdout).toMatch(/: clean$/m)
      await expect(readdir(typo)).rejects.toMatchObject({ code: 'ENOENT' }) // and neither made it
    }
  )
})
