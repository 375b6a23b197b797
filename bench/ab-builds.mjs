// The fs driver of two builds side by side in one process (interleaved rounds, median round each):
// store (durable and fsync off), duplicate store, fetch; 600 KB; concurrency 1 and 16 (doors, issue 29).
//   node bench/ab-builds.mjs BEFORE_DIST AFTER_DIST   (each a built dist/ in a folder whose node_modules resolve)
//   EMPTY=1 node bench/ab-builds.mjs ...: no shard folder made first (a young store: most new frames make theirs)
import { mkdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { compare, KB, payloads, ratio } from './lib.mjs'
const [before, after] = process.argv.slice(2)
const builds = {
  before: await import(join(before, 'drivers/fs.js')),
  after: await import(join(after, 'drivers/fs.js'))
}
const hex = n => n.toString(16).padStart(2, '0')
const base = await mkdtemp(join(process.env.BENCH_DIR ?? '/tmp', 'doors-ab-'))
const drivers = {}
for (const [name, build] of Object.entries(builds))
  for (const fsync of [true, false]) {
    const root = join(base, `${name}-${fsync}`)
    if (!process.env.EMPTY)
      for (let a = 0; a < 256; a++)
        for (let b = 0; b < 256; b++) mkdirSync(join(root, hex(a), hex(b)), { recursive: true })
    drivers[`${name}${fsync ? 'Durable' : 'NoFsync'}`] = new build.FilesystemDriver({ root, fsync })
  }
const rows = []
for (const size of [600 * KB])
  for (const concurrency of [1, 16]) {
    const data = payloads(size, concurrency, `ab ${size} ${concurrency}`)
    const options = { concurrency, seconds: 0.4 }
    const store = await compare(
      Object.fromEntries(
        Object.entries(drivers).map(([name, d]) => [name, async (_, w) => await d.store(data.fresh(w))])
      ),
      options,
      5
    )
    const one = {}
    for (const name of ['beforeDurable', 'afterDurable']) one[name] = await drivers[name].store(data.buffers[0])
    const read = await compare(
      {
        beforeDuplicate: async () => drivers.beforeDurable.store(data.buffers[0]),
        afterDuplicate: async () => drivers.afterDurable.store(data.buffers[0]),
        beforeFetch: async () => drivers.beforeDurable.fetch(one.beforeDurable.hash),
        afterFetch: async () => drivers.afterDurable.fetch(one.afterDurable.hash)
      },
      options,
      5
    )
    const r = { ...store, ...read }
    const row = {
      size: `${size / KB} KB`,
      concurrency,
      durableStore: ratio(r.afterDurable.opsPerSec, r.beforeDurable.opsPerSec),
      noFsyncStore: ratio(r.afterNoFsync.opsPerSec, r.beforeNoFsync.opsPerSec),
      duplicate: ratio(r.afterDuplicate.opsPerSec, r.beforeDuplicate.opsPerSec),
      fetch: ratio(r.afterFetch.opsPerSec, r.beforeFetch.opsPerSec),
      opsPerSec: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v.opsPerSec)]))
    }
    console.log(JSON.stringify(row))
    rows.push(row)
  }
for (const d of Object.values(drivers)) await d.close()
await rm(base, { recursive: true, force: true })
console.log('| frame | c | durable store | store, fsync off | duplicate | fetch |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const r of rows)
  console.log(`| ${r.size} | ${r.concurrency} | ${r.durableStore} | ${r.noFsyncStore} | ${r.duplicate} | ${r.fetch} |`)
