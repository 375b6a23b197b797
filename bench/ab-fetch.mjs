// The fs driver's fetch of two builds side by side in one process (interleaved rounds, median round each), objects
// stored in the last minute ("recent") and ten minutes old ("old": read through the pool), against readFileSync +
// SHA-256 ("floor"): session 10.
//   node bench/ab-fetch.mjs BEFORE_DIST AFTER_DIST [sizes in KB, default 164,600,2048,4883] [rounds, default 7]
//   (each a built dist/ in a folder whose node_modules resolve; CS=1,16 sets the concurrencies)
import { createHash } from 'node:crypto'
import { readFileSync, utimesSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { compare, KB, payloads, ratio } from './lib.mjs'
const [before, after] = process.argv.slice(2, 4)
const sizes = (process.argv[4] ?? '164,600,2048,4883').split(',').map(k => Number(k) * KB)
const rounds = Number(process.argv[5] ?? 7)
const cs = (process.env.CS ?? '1,16').split(',').map(Number)
const builds = {
  before: await import(join(before, 'drivers/fs.js')),
  after: await import(join(after, 'drivers/fs.js'))
}
const base = await mkdtemp(join(process.env.BENCH_DIR ?? '/tmp', 'fetchlap-ab-'))
for (const size of sizes) {
  const count = Math.max(16, Math.min(200, Math.floor((40 * 1024 * KB) / size)))
  const data = payloads(size, 1, `fetchlap ${size}`)
  const drivers = {}
  const sets = {}
  for (const name of Object.keys(builds))
    for (const age of ['Recent', 'Old']) {
      const d = new builds[name].FilesystemDriver({ root: join(base, `${name}${age}-${size}`), fsync: false })
      drivers[name + age] = d
      const list = []
      for (let i = 0; i < count; i++) list.push((await d.store(data.fresh(0))).hash)
      sets[name + age] = list.map(hash => ({ hash, path: d.pathOf(hash) }))
    }
  const touch = () => {
    const now = Date.now() / 1000
    for (const [name, list] of Object.entries(sets))
      for (const { path } of list) utimesSync(path, now, name.endsWith('Old') ? now - 600 : now)
  }
  for (const concurrency of cs) {
    const candidates = Object.fromEntries(
      Object.keys(drivers).map(name => [name, async i => drivers[name].fetch(sets[name][i % count].hash)])
    )
    candidates.floor = async i => {
      const { hash, path } = sets.beforeRecent[i % count]
      if (createHash('sha256').update(readFileSync(path)).digest('hex') !== hash) throw new Error('bad')
    }
    const r = await compare(candidates, { concurrency, seconds: 0.4, beforeEach: touch }, rounds)
    const ops = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v.opsPerSec)]))
    console.log(
      JSON.stringify({
        size: `${Math.round(size / KB)} KB`,
        concurrency,
        recent: ratio(ops.afterRecent, ops.beforeRecent),
        old: ratio(ops.afterOld, ops.beforeOld),
        p99: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v.p99Ms * 1000) / 1000])),
        ops
      })
    )
  }
  await Promise.all(Object.values(drivers).map(d => d.close()))
}
await rm(base, { recursive: true, force: true })
