// Shard folders another writer made unreadable, seen by a watcher and by `sai-images status` that run as the user
// `nobody` in real child processes (root reads every folder, so the EACCES must come from another user).
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, chownSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import type { WatchHealth } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { CLI } from '../../cli/run.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const DIST = new URL('../../../dist/', import.meta.url).href
export const NOBODY = 65534
export const asRoot = process.getuid?.() === 0

export type Outcome = { failed?: string; queued?: number }

/**
 * A watcher as `nobody` in a child process, on a store replicated to `replica` (background: false, so the outbox
 * keeps what it queued). `pass()` runs one full pass: what it threw (its code) or queued; `start()` starts its
 * passes (`options`: the watcher's, such as everyMs).
 */
export function watcherAsNobody(
  root: string,
  replica: string,
  options: Record<string, unknown> = { inotifywait: false }
): { pass: () => Promise<Outcome>; start: () => void; stop: () => Promise<void> } {
  const script = `
    import { createInterface } from 'node:readline'
    import { FilesystemDriver } from '${DIST}drivers/fs.js'
    import { createReplicatedStorage, PrimaryWatcher } from '${DIST}replication.js'
    const storage = createReplicatedStorage({
      primary: new FilesystemDriver({ root: process.argv[1] }),
      replicas: [{ name: 'copy', storage: new FilesystemDriver({ root: process.argv[2] }) }],
      background: false
    })
    const watcher = new PrimaryWatcher(storage, { ...JSON.parse(process.argv[3]), logger: { log() {} } })
    for await (const line of createInterface({ input: process.stdin })) {
      if (line === 'start') watcher.start()
      else {
        const out = await watcher.pass('full').then(queued => ({ queued }), err => ({ failed: err.code }))
        console.log(JSON.stringify(out))
      }
    }
    await watcher.stop()
    await storage.close()`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, root, replica, JSON.stringify(options)], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  return {
    pass: async () => {
      child.stdin!.write('pass\n')
      return JSON.parse((await lines.next()).value as string) as Outcome
    },
    start: () => child.stdin!.write('start\n'),
    stop: async () => {
      child.stdin!.end()
      await once(child, 'exit')
    }
  }
}

/** `sai-images ARGS` as `nobody` on the store at `root`, replicated to the folder `replica`. */
export function cliAsNobody(root: string, replica: string, args: string[]): { code: number | null; stdout: string } {
  const env = {
    SAI_IMAGE_STORAGE_PATH: root,
    SAI_IMAGE_STORAGE_REPLICAS: 'fs',
    SAI_IMAGE_STORAGE_REPLICA_PATH: replica
  }
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    uid: NOBODY,
    gid: NOBODY,
    encoding: 'utf8'
  })
  return { code: result.status, stdout: result.stdout }
}

/**
 * A store of `nobody`'s with another writer's frames (no outbox record) in `count` upper shard folders, one frame
 * each, and its replica's folder; `frames` in the order the folders are listed (readdir's, as the watcher sees them).
 */
export async function foreignFrames(
  count: number
): Promise<{ root: string; replica: string; frames: Array<{ sha256: string; upper: string }> }> {
  const root = await tempDir('sai-unreadable')
  const replica = await tempDir('sai-unreadable-replica')
  const other = new FilesystemDriver({ root })
  const uppers = new Set<string>()
  for (let i = 0; uppers.size < count; i++) uppers.add((await other.store(testJpeg(`foreign ${i}`))).sha256.slice(0, 2))
  await other.close()
  execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, root, replica])
  const frames = readdirSync(root)
    .filter(name => uppers.has(name))
    .map(upper => {
      const [leaf] = readdirSync(join(root, upper))
      const [file] = readdirSync(join(root, upper, leaf!))
      return { sha256: file!.slice(0, 64), upper }
    })
  return { root, replica, frames }
}

/** Another user's folder, which `nobody` may not list (`0700`), or list but not enter (`0704`: no stat inside). */
export function closeFolder(root: string, key: string, mode: 0o700 | 0o704): void {
  chownSync(join(root, key), 0, 0)
  chmodSync(join(root, key), mode)
}

/** What the watcher queued (the outbox's records for the replica `copy`), sorted. */
export function outbox(root: string): string[] {
  try {
    return readdirSync(join(root, '.replication', 'outbox', 'copy')).sort()
  } catch {
    return []
  }
}

export function watchHealth(root: string): WatchHealth | undefined {
  try {
    return JSON.parse(readFileSync(join(root, '.replication', 'watch.json'), 'utf8')) as WatchHealth
  } catch {
    return undefined
  }
}
