// The eventloop section of bench/run.mjs for two builds side by side in one process (issue 33, session 10): 16
// concurrent durable stores of each build, 16 bare writes and 16 bare writes with their SHA-256 on the loop, in
// interleaved rounds (the order rotates, a `sync` before each turn), with the main thread's time on a CPU and in
// the run queue (/proc/self/task/PID/schedstat, Linux), per second of the turn.
//   node bench/eventloop-ab.mjs BEFORE_DIST AFTER_DIST   (each a built dist/ in a folder whose node_modules resolve)
//   ROUNDS=6 SIZES=5000,600 (KB; 5000 = 5 MiB as in run.mjs) BENCH_DIR=/work/bench-stores
import { execFileSync } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { KB, MB, payloads, run } from './lib.mjs'

const [before, after] = process.argv.slice(2)
const builds = {
  before: await import(join(before, 'drivers/fs.js')),
  after: await import(join(after, 'drivers/fs.js'))
}
const rounds = Number(process.env.ROUNDS ?? 6)
const sizes = (process.env.SIZES ?? '5000,600').split(',').map(k => (k === '5000' ? 5 * MB : Number(k) * KB))
const base = await mkdtemp(join(process.env.BENCH_DIR ?? '/tmp', 'eventloop-ab-'))
const schedstat = () => readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number)

/** One turn: 16 at once for 1 s, as run.mjs; the loop's longest delay, its p99, ops/s, the main thread's CPU. */
async function measure(op) {
  execFileSync('sync')
  const [cpu0, waited0] = schedstat()
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const r = await run(op, { concurrency: 16, seconds: 1 })
  histogram.disable()
  const [cpu1, waited1] = schedstat()
  const seconds = r.ops / r.opsPerSec
  return {
    maxMs: histogram.max / 1e6,
    p99Ms: histogram.percentile(99) / 1e6,
    opsPerSec: r.opsPerSec,
    mainCpuMsPerS: (cpu1 - cpu0) / 1e6 / seconds,
    runQueueMsPerS: (waited1 - waited0) / 1e6 / seconds
  }
}

const median = list => {
  const s = [...list].sort((a, b) => a - b)
  return (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2
}

for (const size of sizes) {
  const root = join(base, String(size))
  const bare = join(root, 'bare')
  await mkdir(bare, { recursive: true })
  const drivers = Object.fromEntries(
    Object.entries(builds).map(([name, build]) => [name, new build.FilesystemDriver({ root: join(root, name) })])
  )
  const data = payloads(size, 16, 'eventloop-ab')
  const hashedWrite = async bytes => {
    const hash = createHash('sha256')
    const hashing = async () => {
      for (let at = 0; at < bytes.length; at += 256 * KB) {
        await new Promise(resolve => setImmediate(resolve))
        hash.update(bytes.subarray(at, at + 256 * KB))
      }
    }
    await Promise.all([writeFile(join(bare, randomUUID()), bytes), hashing()])
    hash.digest()
  }
  const ops = {
    storesBefore: async (_, w) => drivers.before.store(data.fresh(w)),
    storesAfter: async (_, w) => drivers.after.store(data.fresh(w)),
    bareWrites: async (_, w) => writeFile(join(bare, randomUUID()), data.fresh(w)),
    bareWritesHashed: async (_, w) => hashedWrite(data.fresh(w))
  }
  const names = Object.keys(ops)
  const samples = Object.fromEntries(names.map(name => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length]
      samples[name].push(await measure(ops[name]))
    }
    await rm(bare, { recursive: true, force: true })
    await mkdir(bare)
    const last = Object.fromEntries(
      names.map(n => [n, `${samples[n].at(-1).maxMs.toFixed(1)} ms, ${Math.round(samples[n].at(-1).opsPerSec)}/s`])
    )
    console.log(`${size / KB} KB round ${round}: ${JSON.stringify(last)}`)
  }
  const keys = ['maxMs', 'p99Ms', 'opsPerSec', 'mainCpuMsPerS', 'runQueueMsPerS']
  const summary = Object.fromEntries(
    names.map(n => [n, Object.fromEntries(keys.map(k => [k, +median(samples[n].map(x => x[k])).toFixed(2)]))])
  )
  console.log(`${size / KB} KB, median of ${rounds} rounds: ${JSON.stringify(summary)}`)
}
await rm(base, { recursive: true, force: true })
process.exit(0) // a build may keep an unreferenced helper (a worker) alive
