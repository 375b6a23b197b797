// The cost of the tracing channels on the single-frame path: a durable store and a verified fetch of
// a ~600 KB camera frame on the filesystem driver, sequential. Three candidates in one process:
//   before      the build before tracing (commit 1758032: git worktree add /tmp/pre-tracing 1758032,
//               then npm ci && npm run build there; PRE_TRACING_DIST names another dist)
//   quiet       this build, nobody subscribed (the targets: <= 1% over before)
//   subscribed  this build, a subscriber that does nothing on all 12 channels (<= 3% over quiet)
// The candidates take turns operation by operation (triples in a rotating order); each ratio is
// the median over the triples of the ratio of the two candidates' times in a triple, so drift and
// neighbours count alike for both. Writes bench/RESULTS-tracing.md and bench/results-tracing.json.
//   node bench/tracing.mjs [--stores N] [--fetches N]      (CURRENT_DIST: measure another build than ../dist)
import { execFileSync } from 'node:child_process'
import { tracingChannel } from 'node:diagnostics_channel'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, freemem, totalmem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { cameraFrame } from '../examples/frames.mjs'

const here = new URL('.', import.meta.url).pathname
const arg = name => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined)
const STORES = arg('--stores') ?? 1500 // triples; a durable store is a few ms, and an fsync's time swings
const FETCHES = arg('--fetches') ?? 6000
const preDist = process.env.PRE_TRACING_DIST ?? '/tmp/pre-tracing/dist'
// another checkout's build, while this one's is being rebuilt
const currentDist = process.env.CURRENT_DIST ?? join(here, '../dist')

const current = await import(join(currentDist, 'index.js'))
const before = await import(join(preDist, 'index.js'))
if ('TRACING_CHANNELS' in before) throw new Error(`${preDist} has tracing: it is not the build before it`)

const frame = Buffer.from(cameraFrame(1)) // 2880x1616, about 600 KB
const scratch = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'sai-bench-tracing-'))
const stores = {
  before: new before.FilesystemDriver({ root: join(scratch, 'before') }),
  quiet: new current.FilesystemDriver({ root: join(scratch, 'quiet') }),
  subscribed: new current.FilesystemDriver({ root: join(scratch, 'subscribed') })
}
const noop = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} }
const subscribe = on => {
  for (const name of Object.values(current.TRACING_CHANNELS))
    tracingChannel(name)[on ? 'subscribe' : 'unsubscribe'](noop)
}

let counter = 0
/** The frame with a counter in its first comment bytes: every store is of a new image. */
const fresh = () => {
  const bytes = Buffer.from(frame)
  bytes.writeBigUInt64BE(BigInt(++counter) + (BigInt(process.pid) << 40n), 6)
  return bytes
}

const names = Object.keys(stores)
/** One operation of `name`, timed in ms; the subscriber is there only for `subscribed`'s. */
async function timed(name, op) {
  if (name === 'subscribed') subscribe(true)
  try {
    const started = performance.now()
    const value = await op(stores[name])
    return { ms: performance.now() - started, value }
  } finally {
    if (name === 'subscribed') subscribe(false)
  }
}

/**
 * `count` triples: each candidate once, in a rotating order, one right after the other, so that
 * the three of a triple meet the same disk and the same neighbours. The stored objects are removed
 * every 50 triples, untimed.
 */
async function triples(count, op) {
  const list = []
  let written = []
  for (let i = 0; i < count; i++) {
    const triple = {}
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length]
      const { ms, value } = await timed(name, op)
      triple[name] = ms
      if (value?.path !== undefined) written.push(value.path)
    }
    list.push(triple)
    if (written.length >= 150) {
      await Promise.all(written.map(async path => await rm(path, { force: true })))
      written = []
    }
    if (i % 500 === 499) console.log(`${i + 1}/${count}: ${JSON.stringify(triple)}`)
  }
  await Promise.all(written.map(async path => await rm(path, { force: true })))
  return list
}

const median = list => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]
const began = Date.now()
const hashes = {}
for (const name of names) hashes[name] = (await stores[name].store(frame)).hash
await triples(30, async storage => await storage.fetch(hashes[names.find(n => stores[n] === storage)])) // warm up
const rounds = {
  store: await triples(STORES, async storage => await storage.store(fresh())),
  fetch: await triples(FETCHES, async storage => await storage.fetch(hashes[names.find(n => stores[n] === storage)]))
}

const figures = {}
for (const kind of ['store', 'fetch']) {
  const list = rounds[kind]
  figures[kind] = {
    meanMs: Object.fromEntries(names.map(name => [name, +median(list.map(r => r[name])).toFixed(4)])),
    quietOverBefore: +median(list.map(r => r.quiet / r.before)).toFixed(4),
    subscribedOverQuiet: +median(list.map(r => r.subscribed / r.quiet)).toFixed(4),
    subscribedOverBefore: +median(list.map(r => r.subscribed / r.before)).toFixed(4)
  }
}

// What a call costs without the disk: the memory driver's fetch of a 2 KB image, 20 batches of
// 2,000 calls per candidate (alternating), in microseconds per call.
const small = (await import(join(currentDist, 'testing.js'))).testJpeg('bench tracing', 2048)
const memory = {
  before: new before.MemoryDriver(),
  quiet: new current.MemoryDriver(),
  subscribed: new current.MemoryDriver()
}
const smallHash = {}
for (const name of names) smallHash[name] = (await memory[name].store(small)).hash
const perCall = Object.fromEntries(names.map(name => [name, []]))
for (let batch = 0; batch < 20; batch++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(batch + k) % names.length]
    if (name === 'subscribed') subscribe(true)
    const started = performance.now()
    for (let i = 0; i < 2000; i++) await memory[name].fetch(smallHash[name])
    perCall[name].push(((performance.now() - started) * 1000) / 2000)
    if (name === 'subscribed') subscribe(false)
  }
}
figures.memoryFetchMicroseconds = Object.fromEntries(names.map(name => [name, +median(perCall[name]).toFixed(3)]))

const targets = ['store', 'fetch']
  .flatMap(kind => [
    { name: `${kind}: no subscriber / build before tracing`, value: figures[kind].quietOverBefore, limit: 1.01 },
    {
      name: `${kind}: a subscriber that does nothing / no subscriber`,
      value: figures[kind].subscribedOverQuiet,
      limit: 1.03
    }
  ])
  .map(t => ({ ...t, met: t.value <= t.limit }))

let filesystem = '?'
try {
  filesystem = execFileSync('df', ['-T', scratch], { encoding: 'utf8' }).split('\n')[1].split(/\s+/)[1]
} catch {}
const machine = {
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  memoryGB: Math.round(totalmem() / 2 ** 30),
  freeGB: Math.round(freemem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  filesystem
}
// the figures and targets only: the paired samples behind them (thousands) are not kept
const results = {
  date: new Date().toISOString(),
  machine,
  storeTriples: STORES,
  fetchTriples: FETCHES,
  frameBytes: frame.length,
  seconds: Math.round((Date.now() - began) / 1000),
  figures,
  targets
}
await writeFile(join(here, 'results-tracing.json'), JSON.stringify(results, null, 2) + '\n')

const pct = ratio => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(2)}%`
await writeFile(
  join(here, 'RESULTS-tracing.md'),
  [
    '# Tracing overhead (bench/tracing.mjs)',
    '',
    `- date: ${results.date}`,
    `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB (${machine.freeGB} GB free), ` +
      `${machine.platform}, filesystem ${machine.filesystem}; shared with other work while it ran (run under ` +
      `nice)`,
    `- node: ${machine.node}`,
    `- method: a durable store (fsync on, a new frame each time) and a verified fetch of one ` +
      `${Math.round(frame.length / 1024)} KB camera frame, sequential, on the filesystem driver. The candidates ` +
      `take turns operation by operation: ${STORES} triples of stores and ${FETCHES} of fetches, each triple in ` +
      `a rotating order. A ratio is the median over the triples of the two candidates' times in a triple; the ` +
      `times below are medians. ${results.seconds} s in all.`,
    `- candidates: **before**, the build of commit 1758032 (no tracing, ${preDist}); **quiet**, this build ` +
      `(${currentDist}) with no subscriber; **subscribed**, this build with a subscriber that does nothing on ` +
      `all 12 channels.`,
    '',
    '## Targets',
    '',
    '| target | measured | wanted | met |',
    '| --- | --- | --- | --- |',
    ...targets.map(t => `| ${t.name} | ${t.value} (${pct(t.value)}) | <= ${t.limit} | ${t.met ? 'yes' : '**no**'} |`),
    '',
    '## Time per operation (ms, median)',
    '',
    '| operation | before | quiet | subscribed | quiet / before | subscribed / quiet | subscribed / before |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...['store', 'fetch'].map(kind => {
      const f = figures[kind]
      return (
        `| ${kind} | ${f.meanMs.before} | ${f.meanMs.quiet} | ${f.meanMs.subscribed} | ${f.quietOverBefore} | ` +
        `${f.subscribedOverQuiet} | ${f.subscribedOverBefore} |`
      )
    }),
    '',
    '## What a call costs without the disk (µs per call, median of 20 batches of 2,000)',
    '',
    "The memory driver's fetch of a 2 KB image: the library's own work around a call, so the difference " +
      "between the candidates is the channels' whole cost.",
    '',
    '| before | quiet | subscribed | quiet − before | subscribed − quiet |',
    '| --- | --- | --- | --- | --- |',
    (() => {
      const m = figures.memoryFetchMicroseconds
      return (
        `| ${m.before} | ${m.quiet} | ${m.subscribed} | ${(m.quiet - m.before).toFixed(3)} | ` +
        `${(m.subscribed - m.quiet).toFixed(3)} |`
      )
    })(),
    ''
  ].join('\n')
)
await rm(scratch, { recursive: true, force: true })
for (const t of targets) console.log(`${t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value} (<= ${t.limit})`)
