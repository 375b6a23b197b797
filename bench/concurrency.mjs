// forEachConcurrent over p-limit (src/core/concurrency.ts, 0.2) against the 34 lines of our own it
// replaced (kept here as the baseline), 4 at a time: many small tasks, tasks that stat a file, and a
// real prune that deletes 2,000 frames from a filesystem store (the library built twice, one with each).
//   node bench/concurrency.mjs
import { mkdtempSync, writeFileSync } from 'node:fs'
import { rm, stat, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'

const src = new URL('../src/', import.meta.url).pathname
// the bundles beside the package's node_modules, which they import; the stores in the system's temp
const dir = mkdtempSync(join(src, '../node_modules/.sai-limit-'))
const stores = mkdtempSync(join(tmpdir(), 'sai-limit-'))

/** The hand-written limiter of 0.1, for comparison (KeyedLock as it still is). */
const HAND_WRITTEN = `
export async function forEachConcurrent(items, concurrency, work) {
  const running = new Set()
  let failure
  for await (const item of items) {
    if (failure !== undefined) break
    const task = work(item)
      .catch(error => {
        failure ??= { error }
      })
      .finally(() => running.delete(task))
    running.add(task)
    if (running.size >= concurrency) await Promise.race(running)
  }
  await Promise.all(running)
  if (failure !== undefined) throw failure.error
}
export { KeyedLock } from ${JSON.stringify(join(src, 'core/concurrency.ts'))}
`
writeFileSync(join(dir, 'hand.mjs'), HAND_WRITTEN)
const entry = join(dir, 'entry.ts')
writeFileSync(
  entry,
  `export { forEachConcurrent } from ${JSON.stringify(join(src, 'core/concurrency.js'))}
export { prune } from ${JSON.stringify(join(src, 'features/retention/prune.ts'))}
export { FilesystemDriver } from ${JSON.stringify(join(src, 'drivers/fs/index.ts'))}
export { testJpeg } from ${JSON.stringify(join(src, 'testing/images.ts'))}`
)
/** The library bundled with the limiter of `limiterFile`, or ours. */
async function bundle(name, limiterFile) {
  const handWritten = {
    name: 'hand-written-limiter',
    setup(b) {
      b.onResolve({ filter: /concurrency\.js$/ }, args =>
        args.importer.endsWith('hand.mjs') ? undefined : { path: limiterFile }
      )
    }
  }
  const outfile = join(dir, `${name}.mjs`)
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'error',
    plugins: limiterFile === undefined ? [] : [handWritten]
  })
  return await import(outfile)
}
const limiters = {
  'p-limit': await bundle('ours'),
  'hand-written': await bundle('hand-written', join(dir, 'hand.mjs'))
}
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function* stream(n) {
  for (let i = 0; i < n; i++) yield i
}
const file = join(stores, 'f')
writeFileSync(file, 'x')
const cases = {
  'empty task': [Number(process.env.TASKS ?? 200_000), async () => {}],
  'a stat each': [Number(process.env.TASKS ?? 50_000), async () => void (await stat(file))]
}
for (const [name, [n, work]] of Object.entries(cases)) {
  const times = { 'p-limit': [], 'hand-written': [] }
  for (let round = 0; round < 6; round++)
    for (const [limiter, lib] of Object.entries(limiters)) {
      const start = performance.now()
      await lib.forEachConcurrent(stream(n), 4, work)
      if (round > 0) times[limiter].push(((performance.now() - start) * 1000) / n)
    }
  const line = Object.entries(times).map(([limiter, xs]) => `${limiter} ${median(xs).toFixed(2)} µs`)
  console.log(`${name} (${n.toLocaleString('en')} at 4 at a time, per task, median of 5): ${line.join(', ')}`)
}

// a prune of 2,000 frames, all old, from a filesystem store: a real unlink (and set-aside) each
const FRAMES = Number(process.env.FRAMES ?? 2000) // (a quick try: FRAMES=20 TASKS=1000)
const pruned = { 'p-limit': [], 'hand-written': [] }
for (let round = 0; round < 4; round++)
  for (const [limiter, lib] of Object.entries(limiters)) {
    const root = join(stores, `store-${limiter}-${round}`)
    const storage = new lib.FilesystemDriver({ root, fsync: false })
    const old = new Date(Date.now() - 100 * 86_400_000)
    for (let i = 0; i < FRAMES; i++)
      await utimes((await storage.store(lib.testJpeg(`${root} ${i}`, 2000))).path, old, old)
    const start = performance.now()
    const report = await lib.prune(storage, { olderThan: 86_400_000, concurrency: 4 })
    if (report.deleted !== FRAMES) throw new Error(`deleted ${report.deleted}`)
    pruned[limiter].push(performance.now() - start)
    await storage.close()
    await rm(root, { recursive: true, force: true })
  }
const line = Object.entries(pruned).map(([limiter, xs]) => `${limiter} ${median(xs).toFixed(0)} ms`)
console.log(`prune of ${FRAMES} frames from a filesystem store, 4 at a time (median of 4): ${line.join(', ')}`)
await rm(dir, { recursive: true, force: true })
await rm(stores, { recursive: true, force: true })
