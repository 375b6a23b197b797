import { existsSync } from 'node:fs'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('skipped: unmount tests (need root to mount a tmpfs; CI runs as root)')
const CLI = join(ROOT, 'dist/cli.js')

const mounted: string[] = []
afterEach(() => {
  for (const dir of mounted.splice(0)) spawnSync('umount', ['-l', dir])
})

async function tmpfs(): Promise<string> {
  const dir = await tempDir('sai-mount')
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir])
  mounted.push(dir)
  return dir
}

function unmount(dir: string): void {
  execFileSync('umount', ['-l', dir])
  mounted.splice(mounted.indexOf(dir), 1)
}

/** What every call of the driver answers, as `code` or a value. */
async function answers(storage: FilesystemDriver, hash: string): Promise<Record<string, unknown>> {
  const settle = async (work: () => Promise<unknown>): Promise<unknown> =>
    await work().then(
      v => v,
      (err: { code?: string }) => err.code ?? String(err)
    )
  return {
    exists: await settle(async () => await storage.exists(hash)),
    fetch: await settle(async () => await storage.fetch(hash)),
    fetchStream: await settle(async () => await storage.fetchStream(hash)),
    stat: await settle(async () => await storage.stat(hash)),
    delete: await settle(async () => await storage.delete(hash)),
    list: await settle(async () => {
      for await (const entry of storage.list()) return entry
      return 'empty'
    }),
    verify: await settle(async () => await storage.verify()),
    quarantineAdd: await settle(async () => await storage.quarantine.add(hash, 'test')),
    quarantineList: await settle(async () => {
      for await (const entry of storage.quarantine.list()) return entry
      return 'empty'
    }),
    store: await settle(async () => await storage.store(testJpeg('after the unmount', 3000)))
  }
}

const UNAVAILABLE = Object.fromEntries(
  [
    'exists',
    'fetch',
    'fetchStream',
    'stat',
    'delete',
    'list',
    'verify',
    'quarantineAdd',
    'quarantineList',
    'store'
  ].map(call => [call, 'ERR_STORAGE_UNAVAILABLE'])
)

describe.skipIf(!isRoot)('a store on a real mount that goes away', () => {
  it('unmounted while the driver is held (root below the mount point): every call is ERR_STORAGE_UNAVAILABLE', async () => {
    const mount = await tmpfs()
    await mkdir(join(mount, 'images'))
    for (const createRoot of [false, true]) {
      const storage = new FilesystemDriver({ root: join(mount, 'images'), createRoot })
      await storage.store(testJpeg(`before ${createRoot}`, 3000))
      const held = await storage.store(testJpeg(`held ${createRoot}`, 3000))
      expect(await storage.exists(held.hash)).toBe(true)
      if (createRoot) {
        unmount(mount)
        expect(await answers(storage, held.hash)).toEqual(UNAVAILABLE)
        expect(await readdir(mount)).toEqual([]) // nothing was made on the bare mount point
      }
    }
  })

  it('unmounted while the driver is held (root is the mount point): the bare directory left behind is not taken for the store', async () => {
    const mount = await tmpfs()
    const storage = new FilesystemDriver({ root: mount, createRoot: false })
    const held = await storage.store(testJpeg('mount point', 3000))
    unmount(mount)
    expect(await answers(storage, held.hash)).toEqual(UNAVAILABLE)
    expect(await readdir(mount)).toEqual([])
  })
})

describe('a root that is missing or not a directory', () => {
  it('with createRoot false, every call and every command is ERR_STORAGE_UNAVAILABLE (exit 5), never "not found" or "clean"', async () => {
    const parent = await tempDir()
    const file = join(parent, 'a-file')
    await writeFile(file, 'x')
    const hash = 'ab'.repeat(32)
    for (const root of [join(parent, 'not-mounted'), file]) {
      expect(await answers(new FilesystemDriver({ root, createRoot: false }), hash)).toEqual(UNAVAILABLE)
      const env = { ...process.env, SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_CREATE_ROOT: 'false' }
      for (const args of [['verify'], ['stats'], ['exists', hash], ['fetch', hash], ['stat', hash]]) {
        const result = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' })
        expect({ args, code: result.status, stdout: result.stdout }).toEqual({ args, code: 5, stdout: '' })
        expect(result.stderr).toContain('ERR_STORAGE_UNAVAILABLE')
        expect(result.stderr.trim().split('\n')).toHaveLength(1)
      }
    }
  })

  it('with createRoot true and nothing stored yet: reads find nothing, verify says the root does not exist yet', async () => {
    const root = join(await tempDir(), 'new-store')
    const storage = new FilesystemDriver({ root })
    expect(await storage.exists('ab'.repeat(32))).toBe(false)
    await expect(storage.fetch('ab'.repeat(32))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    expect(await storage.verify()).toMatchObject({ checked: 0, clean: true, rootExists: false })
    // a cron job with a typo in its root must not pass: the CLI says so and exits 1, unless told an empty store is
    // expected

    for (const command of ['verify', 'stats']) {
      const run = (...extra: string[]): ReturnType<typeof spawnSync> =>
        spawnSync(process.execPath, [CLI, command, ...extra], {
          env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root },
          encoding: 'utf8'
        })
      expect(run()).toMatchObject({
        status: 1,
        stdout: expect.stringContaining('the root does not exist: nothing was ever stored there')
      })
      expect(run('--allow-empty')).toMatchObject({ status: 0, stdout: expect.stringContaining(`store: ${root}`) })
      expect(existsSync(root)).toBe(false) // and neither made it
    }
    await storage.store(testJpeg('first', 2000))
    expect(await storage.verify()).toMatchObject({ checked: 1, clean: true, rootExists: true })
  })
})
