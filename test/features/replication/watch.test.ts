// The watcher of `replicate --watch`: frames that other processes put into the primary's layout
// (the real storage.py, run by Debian's python3 with python3-aiofiles, and a plain rename) are
// counted by `status` and copied within seconds; SIGKILLs of the watcher while writes go on miss
// nothing; a frame replaced or deleted under it is handled as the reconcile would.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage, PrimaryWatcher, readWatchHealth } from '../../../src/features/replication/index.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { answer, cli, CLI } from '../../cli/run.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

// the module the inference service runs, unchanged, from beside the checkout (see shared/peers/README.md)
const PEERS = join(ROOT, '..', 'shared', 'peers')
const PYTHON = '/usr/bin/python3'
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** storage.py stores each file of `files`, `delayMs` apart, printing `<hash> <ms>` after each store. */
const WRITER = `
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
from storage import ImageStorage
async def main():
    storage = ImageStorage(base_path=sys.argv[2])
    for path in sys.argv[4:]:
        result = await storage.store(open(path, 'rb').read())
        print(result.hash, int(time.time() * 1000), flush=True)
        await asyncio.sleep(int(sys.argv[3]) / 1000)
asyncio.run(main())
`

async function setup(): Promise<{ root: string; replica: FilesystemDriver; env: Record<string, string> }> {
  const root = await tempDir('sai-watch')
  const replica = new FilesystemDriver({ root: await tempDir('sai-watch-replica') })
  const env = {
    SAI_IMAGE_STORAGE_PATH: root,
    SAI_IMAGE_STORAGE_REPLICAS: 'fs',
    SAI_IMAGE_STORAGE_REPLICA_PATH: replica.root
  }
  return { root, replica, env }
}

/** Frames as files, for storage.py to read. */
async function frameFiles(label: string, count: number): Promise<{ files: string[]; hashes: string[] }> {
  const dir = await tempDir('sai-frames')
  const files: string[] = []
  const hashes: string[] = []
  for (let i = 0; i < count; i++) {
    const jpeg = testJpeg(`${label} ${i}`, 4000)
    files.push(join(dir, `${i}.jpg`))
    hashes.push(sha256(jpeg))
    await writeFile(files.at(-1)!, jpeg)
  }
  return { files, hashes }
}

function storagePy(
  root: string,
  files: string[],
  delayMs = 0
): { child: ChildProcess; done: Promise<Array<{ hash: string; at: number }>> } {
  const child = spawn(PYTHON, ['-c', WRITER, PEERS, root, String(delayMs), ...files], {
    env: { ...process.env, SAI_IMAGE_STORAGE_PATH: root },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let out = ''
  child.stdout!.on('data', (data: Buffer) => {
    out += data.toString()
  })
  const done = new Promise<Array<{ hash: string; at: number }>>((resolve, reject) =>
    child.on('close', code => {
      if (code !== 0) reject(new Error(`storage.py exited ${code}`))
      resolve(
        out
          .trim()
          .split('\n')
          .filter(Boolean)
          .map(line => ({ hash: line.split(' ')[0]!, at: Number(line.split(' ')[1]) }))
      )
    })
  )
  return { child, done }
}

/** A frame put into place by hand: written beside the layout, then renamed into its folder. */
async function renameIn(root: string, label: string): Promise<{ hash: string; at: number }> {
  const jpeg = testJpeg(label, 3000)
  const hash = sha256(jpeg)
  const path = join(root, hash.slice(0, 2), hash.slice(2, 4), `${hash}.jpg`)
  await mkdir(dirname(path), { recursive: true })
  await writeFile(join(root, `${hash}.part`), jpeg)
  await rename(join(root, `${hash}.part`), path)
  return { hash, at: Date.now() }
}

/** Waits until the replica holds every hash (the exact bytes), up to `ms`; when each arrived. */
async function arrivals(replica: FilesystemDriver, hashes: string[], ms: number): Promise<Map<string, number>> {
  const arrived = new Map<string, number>()
  for (const deadline = Date.now() + ms; arrived.size < hashes.length && Date.now() < deadline; ) {
    for (const hash of hashes) if (!arrived.has(hash) && existsSync(replica.pathOf(hash))) arrived.set(hash, Date.now())
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  for (const hash of arrived.keys()) expect(sha256(await replica.fetch(hash))).toBe(hash)
  return arrived
}

function watcher(
  env: Record<string, string>,
  ...args: string[]
): { child: ChildProcess; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'replicate', '--watch', '--no-reconcile', ...args], {
    env: { ...process.env, ...env },
    stdio: 'ignore'
  })
  return { child, exit: new Promise(resolve => child.on('close', code => resolve(code))) }
}

describe('replicate --watch finds what other writers put into the primary', () => {
  it('storage.py and a rename: counted by status before any watcher ' +
    'ran, then copied within 10 s; SIGTERM exits 0', async () => {
    const { root, replica, env } = await setup()
    const before = await frameFiles('before', 3)
    await storagePy(root, before.files).done
    const renamed = await renameIn(root, 'renamed before')
    const status = answer(cli(['status', '--json'], { env }))
    expect(status.replicas[0]).toMatchObject({ name: 'fs', pending: 0 })
    expect(status.unseen).toMatchObject({ frames: 4 })
    expect(cli(['replicate', '--health'], { env }).code).toBe(1) // no watcher ever ran

    const service = watcher(env, '--watch-every', '1s')
    const first = await arrivals(replica, [...before.hashes, renamed.hash], 10_000)
    expect(first.size).toBe(4)
    const during = await frameFiles('during', 6)
    const written = storagePy(root, during.files, 300)
    const byHand = [await renameIn(root, 'renamed during 1'), await renameIn(root, 'renamed during 2')]
    const stores = [...(await written.done), ...byHand]
    const arrived = await arrivals(
      replica,
      stores.map(s => s.hash),
      10_000
    )
    for (const { hash, at } of stores) expect(arrived.get(hash)! - at, hash).toBeLessThanOrEqual(10_000)
    expect(answer(cli(['status', '--json'], { env })).unseen).toMatchObject({ frames: 0, watcher: { live: true } })
    expect(cli(['replicate', '--health'], { env }).code).toBe(0)
    service.child.kill('SIGTERM')
    expect(await service.exit).toBe(0)
  }, 60_000)

  it('SIGKILLs of the watcher while storage.py writes: nothing missed, though no reconcile runs', async () => {
    const { root, replica, env } = await setup()
    const frames = await frameFiles('killed', 40)
    const written = storagePy(root, frames.files, 60)
    let ended = false
    void written.done.finally(() => {
      ended = true
    })
    for (let kills = 0; !ended || kills < 3; kills++) {
      const service = watcher(env, '--watch-every', '0.5s')
      await new Promise(resolve => setTimeout(resolve, 300 + Math.random() * 700))
      service.child.kill('SIGKILL')
      await service.exit
    }
    await written.done
    const last = watcher(env, '--watch-every', '0.5s')
    const arrived = await arrivals(replica, frames.hashes, 15_000)
    for (let waited = 0; waited < 100 && readWatchHealth(join(root, '.replication'))?.pid !== last.child.pid; waited++)
      await new Promise(resolve => setTimeout(resolve, 100))
    last.child.kill('SIGTERM') // once it runs (a SIGTERM while Node starts kills it by the signal)
    expect(await last.exit).toBe(0)
    expect(frames.hashes.filter(hash => !arrived.has(hash))).toEqual([])
  }, 90_000)
})

describe('the watcher in the library', () => {
  it(
    'tells each copy and its latency (onCopied); a replaced frame is ' +
      'compared by size, as the reconcile would; a deleted one goes',
    async () => {
      const primary = new FilesystemDriver({ root: await tempDir('sai-watch') })
      const replica = new FilesystemDriver({ root: await tempDir('sai-watch-replica') })
      const storage = createReplicatedStorage({
        primary,
        replicas: [{ name: 'copy', storage: replica }],
        background: false
      })
      const copied: Array<{ sha256: string; seconds: number; replica: string }> = []
      const watcher = new PrimaryWatcher(storage, {
        everyMs: 60_000,
        onCopied: (sha256, seconds, replica) => copied.push({ sha256, seconds, replica })
      })
      expect(await watcher.pass()).toBe(0)
      const a = await renameIn(primary.root, 'library a')
      const b = await renameIn(primary.root, 'library b')
      expect(await watcher.pass()).toBe(2)
      expect(partsOf(storage).outbox.pending('copy')).toEqual([a.hash, b.hash].sort())
      expect(await storage.drain()).toMatchObject({ copied: 2, pending: 0 })
      expect(sha256(await replica.fetch(a.hash))).toBe(a.hash)
      expect(copied.map(c => c.sha256).sort()).toEqual([a.hash, b.hash].sort())
      for (const c of copied) expect(c).toMatchObject({ replica: 'copy', seconds: expect.any(Number) })
      expect(await watcher.pass()).toBe(0) // copied and in the ledger: not queued again
      await watcher.stop()

      // replaced under its name: the same bytes again is not copied again; other bytes (a size the
      // replica's copy does not have) are queued, and the copier refuses them (never the wrong bytes)
      const again = new PrimaryWatcher(storage, { everyMs: 60_000 })
      await new Promise(resolve => setTimeout(resolve, 20))
      await writeFile(join(primary.root, 'a.part'), await primary.fetch(a.hash))
      await rename(join(primary.root, 'a.part'), primary.pathOf(a.hash))
      expect(await again.pass()).toBe(0)
      await writeFile(join(primary.root, 'b.part'), Buffer.from('not the frame'))
      await rename(join(primary.root, 'b.part'), primary.pathOf(b.hash))
      expect(await again.pass()).toBe(1)
      expect(partsOf(storage).outbox.pending('copy')).toEqual([b.hash])
      const drained = await storage.drain()
      expect(drained.failed).toMatchObject([{ sha256: b.hash, code: 'ERR_INTEGRITY' }])
      expect(sha256(await replica.fetch(b.hash))).toBe(b.hash)

      // deleted by another process before the copy: the copier finds it gone, the outbox empties
      const c = await renameIn(primary.root, 'library c')
      expect(await again.pass()).toBe(1)
      await rm(primary.pathOf(c.hash))
      expect(await again.pass()).toBe(0)
      await rm(primary.pathOf(b.hash), { force: true }) // the damaged one too (or its quarantine took it)
      expect(await storage.drain()).toMatchObject({ gone: 2, pending: 0 })
      expect(await readdir(join(primary.root, '.replication', 'outbox', 'copy'))).toEqual([])
      await again.stop()
      await storage.close()
    }
  )
})
