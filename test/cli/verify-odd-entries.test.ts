// What `verify`, `stats`, `status` and the object commands say of odd entries, as an operator runs them: a folder
// or a link where a frame's file should be, and a root that is a folder but no store (a mistyped `--root /srv`).
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
// @ts-expect-error a plain ES module without types
import { cameraFrame } from '../../examples/frames.mjs'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { createVariants } from '../../src/features/variants/index.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

describe('a folder where a frame should be', () => {
  it('verify names it and exits 1; --repair leaves it and its contents; exists and fetch -o fail typed', async () => {
    const dir = await tempDir()
    const root = join(dir, 'store')
    const storage = new FilesystemDriver({ root })
    const { sha256, path } = await storage.store(Buffer.from(cameraFrame(1)))
    await createVariants(storage).get(sha256, 'thumb') // its cached variant: verify must not call it an orphan
    rmSync(path)
    mkdirSync(path)
    writeFileSync(join(path, 'keep.txt'), 'an operator put this here')
    const env = { SAI_IMAGE_STORAGE_PATH: root }

    const look = cli(['verify'], { env })
    expect(look.code).toBe(1)
    expect(look.stdout).toContain(`not-a-file ${path} (a folder or a link where a frame should be: move it aside`)
    const repair = answer(cli(['verify', '--repair', '--json'], { env }))
    expect(repair.problems).toEqual([{ path, key: path.slice(root.length + 1), reason: 'not-a-file', action: 'left' }])
    expect(repair).toMatchObject({ clean: false, counts: { 'not-a-file': 1 }, variants: { counts: {}, checked: 1 } })
    expect(readFileSync(join(path, 'keep.txt'), 'utf8')).toBe('an operator put this here')

    for (const args of [
      ['exists', sha256],
      ['fetch', sha256, '-o', join(dir, 'out.jpg')],
      ['stat', sha256]
    ]) {
      const run = cli(args, { env })
      expect({ args, code: run.code }).toEqual({ args, code: 5 })
      expect(run.stderr).toContain(`ERR_STORAGE_UNAVAILABLE: Image storage unavailable at ${path}: a folder stands`)
      expect(run.stderr).toContain('Move it aside') // what to do about one entry, not the advice about a root
      expect(run.stderr).not.toContain('Check the mount')
    }
    expect(existsSync(join(dir, 'out.jpg')) || existsSync(join(dir, 'out.jpg.partial'))).toBe(false)
  })

  it("import: the file whose frame's place is a folder fails alone (exit 1); the others are imported", async () => {
    const dir = await tempDir()
    const [from, root] = [join(dir, 'from'), join(dir, 'store')]
    mkdirSync(from)
    const frames = [1, 2, 3].map(n => Buffer.from(cameraFrame(n)))
    for (const [i, frame] of frames.entries()) writeFileSync(join(from, `${i}.jpg`), frame)
    const storage = new FilesystemDriver({ root })
    await storage.store(frames[0]!) // the store made
    const blocked = storage.pathOf(createHash('sha256').update(frames[1]!).digest('hex'))
    mkdirSync(blocked, { recursive: true })
    const run = cli(['import', '--min-age', '0s', from, '--mapping', join(dir, 'm.jsonl'), '--json'], {
      env: { SAI_IMAGE_STORAGE_PATH: root }
    })
    expect(run.code).toBe(1)
    expect(answer(run)).toMatchObject({ done: 2, failed: [{ item: '1.jpg', code: 'ERR_STORAGE_UNAVAILABLE' }] })
    expect(answer(run).failed[0].message).toContain(blocked)
    expect(lstatSync(blocked).isDirectory()).toBe(true)
    expect(await storage.exists(createHash('sha256').update(frames[2]!).digest('hex'))).toBe(true)
  })
})

describe('a symbolic link where a frame should be', () => {
  it('to an intact copy: verify names it; exists, fetch -o, stat and delete fail typed and leave it', async () => {
    // verify never reads through a link: so no command may serve, count or delete the bytes it points to
    const dir = await tempDir()
    const root = join(dir, 'store')
    const bytes = Buffer.from(cameraFrame(3))
    const { sha256, path } = await new FilesystemDriver({ root }).store(bytes)
    writeFileSync(join(dir, 'copy.jpg'), bytes)
    rmSync(path)
    symlinkSync(join(dir, 'copy.jpg'), path)
    const env = { SAI_IMAGE_STORAGE_PATH: root }

    const look = cli(['verify'], { env })
    expect(look.code).toBe(1)
    expect(look.stdout).toContain(`not-a-file ${path}`)
    for (const args of [
      ['exists', sha256],
      ['fetch', sha256, '-o', join(dir, 'out.jpg')],
      ['stat', sha256],
      ['delete', sha256]
    ]) {
      const run = cli(args, { env })
      expect({ args, code: run.code }).toEqual({ args, code: 5 })
      expect(run.stderr).toContain(
        `Image storage unavailable at ${path}: a symbolic link stands where a file should be`
      )
      expect(run.stderr).toContain('Move it aside')
    }
    expect(existsSync(join(dir, 'out.jpg')) || existsSync(join(dir, 'out.jpg.partial'))).toBe(false)
    expect(lstatSync(path).isSymbolicLink()).toBe(true)
    expect(readFileSync(join(dir, 'copy.jpg')).equals(bytes)).toBe(true)
  })
})

describe('a root that is a folder but no store (a mistyped --root /srv)', () => {
  it('verify and stats say what it holds and exit 1 unless --allow-empty; status alerts (exit 15)', async () => {
    const srv = await tempDir()
    mkdirSync(join(srv, 'www'))
    mkdirSync(join(srv, 'lost+found')) // a filesystem's own: not counted
    writeFileSync(join(srv, 'notes.txt'), 'not a frame')
    writeFileSync(join(srv, '.profile'), 'a dot-file: not counted')
    const env = { SAI_IMAGE_STORAGE_PATH: srv }
    const line = 'this folder holds 2 entries that are not frames: is it the store?'

    const verify = cli(['verify'], { env })
    expect(verify.code).toBe(1)
    expect(verify.stdout).toContain('0 objects checked (0 B), 0 variants: nothing to check')
    expect(verify.stdout).toContain(`${line} (a typo? --allow-empty if this is expected)`)
    expect(answer(cli(['verify', '--json'], { env }))).toMatchObject({ checked: 0, clean: false, notFrames: 2 })
    const allowed = cli(['verify', '--allow-empty', '--json'], { env })
    expect(allowed.code).toBe(0)
    expect(answer(allowed)).toMatchObject({ clean: true, notFrames: 2 })

    const stats = cli(['stats'], { env })
    expect(stats.code).toBe(1)
    expect(stats.stdout).toContain(line)
    expect(answer(cli(['stats', '--json'], { env }))).toMatchObject({ objects: 0, notFrames: 2 })
    expect(cli(['stats', '--allow-empty'], { env }).code).toBe(0)

    const replica = await tempDir()
    const replicated = { ...env, SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: replica }
    const status = cli(['status'], { env: replicated })
    expect(status.code).toBe(15)
    expect(status.stdout).toContain(`ALERT (exit 15): the primary's root ${srv} holds 2 entries that are not frames`)
    expect(answer(cli(['status', '--json'], { env: replicated }))).toMatchObject({
      notFrames: 2,
      alerts: [{ condition: 'notAStore', exit: 15 }]
    })
    expect(existsSync(join(srv, '.sai-layout.json'))).toBe(false) // nothing written there
  })

  it('with replicas, verify says the same and writes nothing: no state folder, no root, no claim on a replica', async () => {
    // before, the replicated verify made {root}/.replication (and a missing root), marked the replica as this
    // mistyped root's, and called a missing root clean
    const base = await tempDir()
    const srv = join(base, 'srv')
    mkdirSync(join(srv, 'www'), { recursive: true })
    writeFileSync(join(srv, 'notes.txt'), 'not a frame')
    const replica = join(base, 'replica')
    mkdirSync(replica)
    for (const [root, line] of [
      [srv, 'this folder holds 2 entries that are not frames: is it the store?'],
      [join(base, 'images'), 'the root does not exist']
    ] as const) {
      const env = {
        SAI_IMAGE_STORAGE_PATH: root,
        SAI_IMAGE_STORAGE_REPLICAS: 'fs',
        SAI_IMAGE_STORAGE_REPLICA_PATH: replica
      }
      const verify = cli(['verify'], { env })
      expect({ root, code: verify.code }).toEqual({ root, code: 1 })
      expect(verify.stdout).toContain(line)
      expect(answer(cli(['verify', '--json', '--allow-empty'], { env }))).toMatchObject({ clean: true })
      for (const args of [['stats'], ['status'], ['list']]) cli(args, { env })
    }
    expect(readdirSync(base).sort()).toEqual(['replica', 'srv'])
    expect(readdirSync(srv).sort()).toEqual(['notes.txt', 'www'])
    expect(readdirSync(replica)).toEqual([])
  })

  it('a store of frames with no state folder yet (written by the Python service alone): verify records its scan', async () => {
    const root = await tempDir()
    await new FilesystemDriver({ root }).store(Buffer.from(cameraFrame(4)))
    const replica = await tempDir()
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replica
    }
    expect(existsSync(join(root, '.replication'))).toBe(false)
    expect(answer(cli(['verify', '--json'], { env }))).toMatchObject({ clean: false, copies: { belowWanted: 1 } })
    // the scan `status` reads: a frame below its copies, found by this verify
    expect(existsSync(join(root, '.replication', 'verify.json'))).toBe(true)
    expect(answer(cli(['status', '--json'], { env }))).toMatchObject({ belowWantedCopies: 1 })
  })

  it('an empty new store, and one that holds frames beside other entries, stay clean (exit 0)', async () => {
    const empty = await tempDir()
    for (const args of [['verify'], ['stats']]) {
      const run = cli(args, { env: { SAI_IMAGE_STORAGE_PATH: empty } })
      expect({ args, code: run.code, warned: run.stdout.includes('not frames') }).toEqual({
        args,
        code: 0,
        warned: false
      })
    }
    const root = await tempDir()
    await new FilesystemDriver({ root }).store(Buffer.from(cameraFrame(2)))
    writeFileSync(join(root, 'README.txt'), "the operator's notes")
    const run = cli(['verify', '--json'], { env: { SAI_IMAGE_STORAGE_PATH: root } })
    expect(run.code).toBe(0)
    expect(answer(run)).not.toHaveProperty('notFrames')
  })

  it('status on a primary root that does not exist alerts (exit 15) unless --allow-empty; an empty one does not', async () => {
    // a monitor pointed at a mistyped path, or at an array that is not mounted, must not say all is well
    const base = await tempDir()
    const env = {
      SAI_IMAGE_STORAGE_PATH: join(base, 'images'),
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir()
    }
    const missing = cli(['status'], { env })
    expect(missing.code).toBe(15)
    expect(missing.stdout).toContain(`ALERT (exit 15): the primary's root ${join(base, 'images')} does not exist`)
    expect(answer(cli(['status', '--json'], { env }))).toMatchObject({
      rootExists: false,
      alerts: [{ condition: 'notAStore', exit: 15 }]
    })
    expect(existsSync(join(base, 'images')), 'status made no root').toBe(false)
    expect(cli(['status', '--allow-empty'], { env }).code).toBe(0)
    mkdirSync(join(base, 'images'))
    const empty = cli(['status', '--json'], { env })
    expect(empty.code).toBe(0)
    expect(answer(empty)).not.toHaveProperty('rootExists')
  })
})
