// The watcher's default mechanism, one `inotifywait -m -r` child (Debian's inotify-tools) watching the
// layout (inotifywait.ts), on the real filesystem with the real program: frames written by the real
// storage.py and by a plain rename are copied from its events (no stat pass is due within the test), in
// shard folders made after the start too; without the program on PATH the service falls back to stat
// passes; a lost event (a full inotify queue, the child killed) is made up for by a full pass.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage, PrimaryWatcher, readWatchHealth } from '../../../src/features/replication/index.js'
import { keepWatching } from '../../../src/features/replication/inotifywait.js'
import { partsOf } from '../../../src/features/replication/parts.js'
import { testJpeg } from '../../../src/testing/index.js'
import { answer, CLI, cli } from '../../cli/run.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const PEERS = join(ROOT, '..', 'shared', 'peers') // storage.py, unchanged (shared/peers/README.md)
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** Waits up to `ms` for `done()`; whether it came. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) if (done()) return true
  return done()
}

/** A test frame whose hash satisfies `wanted` (its label found by trying). */
function frameWhere(label: string, wanted: (hash: string) => boolean = () => true): { hash: string; bytes: Buffer } {
  for (let i = 0; ; i++) {
    const bytes = testJpeg(`${label} ${i}`, 3000)
    const hash = sha256(bytes)
    if (wanted(hash)) return { hash, bytes }
  }
}

/** A frame written beside the layout and renamed into its folder (made if missing), as by hand. */
async function renameIn(root: string, frame: { hash: string; bytes: Buffer }): Promise<string> {
  const { hash, bytes } = frame
  await mkdir(join(root, hash.slice(0, 2), hash.slice(2, 4)), { recursive: true })
  await writeFile(join(root, `${hash}.part`), bytes)
  await rename(join(root, `${hash}.part`), join(root, hash.slice(0, 2), hash.slice(2, 4), `${hash}.jpg`))
  return hash
}

/** storage.py (run by Debian's python3) stores a frame; its hash. */
function storagePy(root: string, label: string): string {
  const script =
    'import asyncio, sys\nsys.path.insert(0, sys.argv[1])\nfrom storage import ImageStorage\n' +
    'r = asyncio.run(ImageStorage(base_path=sys.argv[2]).store(sys.stdin.buffer.read()))\nprint(r.hash)'
  const out = execFileSync('/usr/bin/python3', ['-c', script, PEERS, root], { input: testJpeg(label, 4000) })
  return out.toString().trim()
}

async function setup(): Promise<{ root: string; replica: FilesystemDriver; env: Record<string, string> }> {
  const root = await tempDir('sai-inotifywait')
  const replica = new FilesystemDriver({ root: await tempDir('sai-inotifywait-replica') })
  const env = {
    SAI_IMAGE_STORAGE_PATH: root,
    SAI_IMAGE_STORAGE_REPLICAS: 'fs',
    SAI_IMAGE_STORAGE_REPLICA_PATH: replica.root
  }
  return { root, replica, env }
}

function service(env: Record<string, string>, ...args: string[]): { child: ChildProcess; exit: Promise<number> } {
  const child = spawn(process.execPath, [CLI, 'replicate', '--watch', '--no-reconcile', ...args], {
    env: { ...process.env, ...env },
    stdio: 'ignore'
  })
  return { child, exit: new Promise(resolve => child.on('close', code => resolve(code ?? -1))) }
}

/** The processes below `pid` (its children, theirs...) of the command `name`. */
function children(pid: number, name: string): number[] {
  const procs = readdirSync('/proc')
    .filter(p => /^\d+$/.test(p))
    .flatMap(p => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
        return [
          { pid: Number(p), ppid: Number(stat.split(') ')[1]!.split(' ')[1]), name: stat.split(' (')[1]!.split(')')[0] }
        ]
      } catch {
        return [] // ended meanwhile
      }
    })
  const below = (parent: number): typeof procs =>
    procs.filter(p => p.ppid === parent).flatMap(p => [p, ...below(p.pid)])
  return below(pid)
    .filter(p => p.name === name)
    .map(p => p.pid)
}

/** Whether the replica holds each frame, its bytes checked, within `ms`. */
async function copied(replica: FilesystemDriver, hashes: string[], ms: number): Promise<boolean> {
  if (!(await until(() => hashes.every(hash => existsSync(replica.pathOf(hash))), ms))) return false
  for (const hash of hashes) expect(sha256(await replica.fetch(hash))).toBe(hash)
  return true
}

describe('replicate --watch with inotifywait (the default when installed)', () => {
  it('storage.py and renames, in old and new shard folders, copied from its events; status names it', async () => {
    const { root, replica, env } = await setup()
    const old = await renameIn(root, frameWhere('before the start')) // its leaf and parent exist at the start
    // stat passes 10 minutes apart: only the child's events (or its first full pass) can find a frame
    const watcher = service(env, '--watch-every', '600s')
    const health = (): string | undefined => readWatchHealth(join(root, '.replication'))?.mechanism
    expect(await until(() => health() === 'inotifywait', 10_000)).toBe(true)
    expect(await copied(replica, [old], 5000)).toBe(true) // its full pass once the watches were set up
    expect(children(watcher.child.pid!, 'inotifywait')).toHaveLength(1)

    const byPython = storagePy(root, 'storage.py')
    const byHand = await renameIn(root, frameWhere('renamed'))
    // made after the start: a leaf under the existing parent (written in place, no rename), a parent and its leaf
    const leaf = frameWhere(
      'new leaf',
      h => h.startsWith(old.slice(0, 2)) && !existsSync(join(root, h.slice(0, 2), h.slice(2, 4)))
    )
    await mkdir(join(root, leaf.hash.slice(0, 2), leaf.hash.slice(2, 4)))
    await writeFile(join(root, leaf.hash.slice(0, 2), leaf.hash.slice(2, 4), `${leaf.hash}.jpg`), leaf.bytes)
    const parent = await renameIn(
      root,
      frameWhere('new parent', h => !existsSync(join(root, h.slice(0, 2))))
    )
    expect(await copied(replica, [byPython, byHand, leaf.hash, parent], 5000)).toBe(true)

    const status = cli(['status'], { env })
    expect(status.stdout).toContain('finding frames by inotifywait')
    expect(answer(cli(['replicate', '--health', '--json'], { env })).watcher).toMatchObject({
      mechanism: 'inotifywait'
    })
    watcher.child.kill('SIGTERM')
    expect(await watcher.exit).toBe(0)
  }, 60_000)
})

describe('replicate --watch SIGKILLed', () => {
  it('leaves no inotifywait behind holding its watches', async () => {
    const { root, env } = await setup()
    await renameIn(root, frameWhere('killed'))
    const watcher = service(env)
    expect(await until(() => readWatchHealth(join(root, '.replication'))?.mechanism === 'inotifywait', 10_000)).toBe(
      true
    )
    const [child] = children(watcher.child.pid!, 'inotifywait')
    expect(existsSync(`/proc/${child}`)).toBe(true)
    watcher.child.kill('SIGKILL')
    await watcher.exit
    expect(await until(() => !existsSync(`/proc/${child}`), 5000)).toBe(true)
  }, 30_000)
})

describe('replicate --watch without inotifywait', () => {
  it('falls back to stat passes (PATH without it): storage.py and a rename still copied, status says so', async () => {
    const { root, replica, env } = await setup()
    const watcher = service({ ...env, PATH: await tempDir('sai-empty-path') }, '--watch-every', '1s')
    const health = (): string | undefined => readWatchHealth(join(root, '.replication'))?.mechanism
    expect(await until(() => health() === 'stat', 10_000)).toBe(true)
    const hashes = [storagePy(root, 'fallback storage.py'), await renameIn(root, frameWhere('fallback rename'))]
    expect(await copied(replica, hashes, 10_000)).toBe(true)
    expect(health()).toBe('stat')
    expect(children(watcher.child.pid!, 'inotifywait')).toEqual([])
    expect(cli(['status'], { env }).stdout).toContain('finding frames by stat')
    watcher.child.kill('SIGTERM')
    expect(await watcher.exit).toBe(0)
  }, 60_000)
})

async function library() {
  const primary = new FilesystemDriver({ root: await tempDir('sai-inotifywait-lib') })
  const replica = new FilesystemDriver({ root: await tempDir('sai-inotifywait-lib-replica') })
  const storage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'copy', storage: replica }],
    background: false
  })
  return { primary, replica, storage }
}

describe('the inotifywait child in the library', () => {
  it('an event lost to a full inotify queue: its Q_OVERFLOW brings a full pass that finds the frame', async () => {
    const { primary, storage } = await library()
    const busy = frameWhere('busy folder')
    await renameIn(primary.root, busy)
    const lost = frameWhere('lost', h => h.slice(0, 4) !== busy.hash.slice(0, 4))
    await mkdir(join(primary.root, lost.hash.slice(0, 2), lost.hash.slice(2, 4)), { recursive: true })
    // no stat pass is due within the test: only the child's events, or a full pass it asks for
    const watcher = new PrimaryWatcher(storage, { everyMs: 600_000, fullEveryMs: 600_000 })
    watcher.start()
    expect(await until(() => watcher.mechanism === 'inotifywait', 10_000)).toBe(true)
    await sleep(1500) // the full pass that follows the setup of its watches
    expect(watcher.queued).toBe(1) // the frame there before the start
    const [child] = children(process.pid, 'inotifywait')
    expect(child).toBeDefined()
    process.kill(child!, 'SIGSTOP')
    // more events than the kernel queues for it (max_queued_events), in another folder; then the frame
    const queue = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'))
    const junk = join(primary.root, busy.hash.slice(0, 2), busy.hash.slice(2, 4))
    for (let i = 0; i < queue / 2 + 100; i++) await writeFile(join(junk, `junk-${i}.tmp`), '') // CREATE, CLOSE_WRITE
    await renameIn(primary.root, lost)
    process.kill(child!, 'SIGCONT')
    expect(await until(() => watcher.queued === 2, 10_000)).toBe(true)
    await watcher.stop()
    expect(await storage.drain()).toMatchObject({ copied: 2, pending: 0 })
    await storage.close()
  }, 60_000)

  it("a frame its events never named (the child stalled, alive) is found by a watcher started again: only a pass that stat'ed every folder moves caughtUpTo", async () => {
    const { primary, storage } = await library()
    const watcher = new PrimaryWatcher(storage, { everyMs: 500, fullEveryMs: 600_000 })
    watcher.start()
    expect(await until(() => watcher.mechanism === 'inotifywait', 10_000)).toBe(true)
    await sleep(1500) // the full pass that follows the setup of its watches
    const [child] = children(process.pid, 'inotifywait')
    process.kill(child!, 'SIGSTOP') // alive, its events held back
    const frame = await renameIn(primary.root, frameWhere('never named'))
    await sleep(4000) // events passes every 500 ms meanwhile, none with an event to take
    expect(watcher.queued).toBe(0)
    await watcher.stop()
    process.kill(child!, 'SIGKILL')
    expect(Date.parse(readWatchHealth(join(primary.root, '.replication'))!.caughtUpTo)).toBeLessThan(Date.now() - 4000)
    const again = new PrimaryWatcher(storage, { inotifywait: false }) // lists the folders changed since caughtUpTo
    expect(await again.pass('stat')).toBe(1)
    expect(partsOf(storage).outbox.pending('copy')).toEqual([frame])
    await again.stop()
    await storage.close()
  }, 60_000)

  it('the child killed: stat passes meanwhile, a frame written then copied, and the child started again', async () => {
    const { primary, replica, storage } = await library()
    await renameIn(primary.root, frameWhere('first'))
    const watcher = new PrimaryWatcher(storage, { everyMs: 500, fullEveryMs: 3000 })
    watcher.start()
    expect(await until(() => watcher.mechanism === 'inotifywait', 10_000)).toBe(true)
    const [child] = children(process.pid, 'inotifywait')
    process.kill(child!, 'SIGKILL')
    expect(await until(() => watcher.mechanism === 'stat', 5000)).toBe(true)
    const frame = await renameIn(primary.root, frameWhere('while it was gone'))
    expect(await until(() => watcher.queued === 2, 5000)).toBe(true)
    expect(await until(() => watcher.mechanism === 'inotifywait', 10_000)).toBe(true) // a fullEveryMs after
    const again = children(process.pid, 'inotifywait')
    expect(again).toHaveLength(1)
    expect(again[0]).not.toBe(child)
    await watcher.stop()
    expect(await until(() => children(process.pid, 'inotifywait').length === 0, 5000)).toBe(true) // stop ends it
    expect(await storage.drain()).toMatchObject({ copied: 2, pending: 0 })
    expect(sha256(await replica.fetch(frame))).toBe(frame)
    await storage.close()
  }, 60_000)

  it('a layout larger than the watch budget is not watched: no child, the trouble told', () => {
    const told: string[] = []
    const init = {
      root: '/nonexistent',
      depth: 2,
      isShardDir: () => true,
      onEvent: () => {},
      onTrouble: (m: string) => told.push(m)
    }
    const refused = keepWatching(undefined, init, 1000, 60_000, 1000)
    expect(refused).toMatchObject({ refused: true, ended: true, live: false })
    expect(told).toEqual([expect.stringContaining('1000 folders, more than the inotify budget')])
    expect(keepWatching(refused, init, 10, 60_000, 1000)).toBe(refused) // never asked again
  })
})
