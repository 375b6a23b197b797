// Which of our source files one store crosses, measured by V8's own function counters: run by
// path-files.test.ts as `node path-files.mjs BUILD_DIR STORE_DIR`, BUILD_DIR holding src/ built one
// output file per source file. Prints one JSON line: for each operation, the files (relative to
// BUILD_DIR) with a function that ran.
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const [build, root] = process.argv.slice(2)
const prefix = pathToFileURL(build).href + '/'
const { FilesystemDriver } = await import(pathToFileURL(join(build, 'drivers/fs/index.js')).href)

/** A JPEG head and random bytes: a new frame each call (another SHA-256, another shard folder). */
const frame = (size = 64 * 1024) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(size)])

const session = new Session()
session.connect()
await session.post('Profiler.enable')
// callCount: V8 counts every call of every function; takePreciseCoverage hands the counts over and resets them
await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false })

/** The files of ours with a function that ran during `work`. */
async function crossed(work) {
  await session.post('Profiler.takePreciseCoverage') // counts from here on only
  await work()
  const { result } = await session.post('Profiler.takePreciseCoverage')
  return result
    .filter(script => script.url.startsWith(prefix) && script.functions.some(f => f.ranges[0].count > 0))
    .map(script => script.url.slice(prefix.length))
    .sort()
}

const storage = new FilesystemDriver({ root })
// the warm-up: the first store makes the root, records the layout and loads every module; one-time
// setup is not the store path, so it is left out of the counts
await storage.store(frame())
const known = frame()
await storage.store(known)
const newFrame = await crossed(async () => await storage.store(frame())) // and its new shard folder
const next = frame()
mkdirSync(dirname(storage.pathOf(createHash('sha256').update(next).digest('hex'))), { recursive: true })
const newFrameInShard = await crossed(async () => await storage.store(next)) // its shard folder there
const duplicate = await crossed(async () => await storage.store(known))
const hash = (await storage.store(known)).hash
const fetch = await crossed(async () => await storage.fetch(hash))
await storage.close()
// without fsync: a store alone, and stores at once (their temps written while they hash, closed and removed at once)
const unsynced = new FilesystemDriver({ root: `${root}-no-fsync`, fsync: false })
await unsynced.store(frame())
const newFrameNoFsync = await crossed(async () => await unsynced.store(frame()))
const newFramesNoFsync = await crossed(async () => await Promise.all([1, 2, 3, 4].map(() => unsynced.store(frame()))))
// over one hash slice (256 KiB) without fsync: its temp written while it hashes
const largeFrameNoFsync = await crossed(async () => await unsynced.store(frame(300 * 1024)))
await unsynced.close()
await session.post('Profiler.stopPreciseCoverage')
session.disconnect()
const all = { newFrame, newFrameInShard, duplicate, fetch, newFrameNoFsync, newFramesNoFsync, largeFrameNoFsync }
console.log(JSON.stringify(all))
