// npm run bench: the filesystem driver side by side with the irreducible work (the limit) and with
// cacache, memory use on a 512 MB stream, latency at scale, bulk import, and the S3 driver against
// the bare SDK. Writes bench/RESULTS.md and bench/results.json. The rest of `npm run bench`:
// variants.mjs, scale.mjs (whole-store commands), replication.mjs, ipfs.mjs (Kubo), and
// tracing.mjs apart (it needs a build from before tracing).
//   node bench/run.mjs [--quick] [--only python,eventloop,fs,cacache,memory,scale,bulk,s3]  (IPFS: bench/ipfs.mjs)
import { execFileSync } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, utimesSync } from 'node:fs'
import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { cpus, freemem, totalmem, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import cacache from 'cacache'
import { FilesystemDriver } from '../dist/drivers/fs.js'
import { compare, KB, MB, payloads, ratio, run } from './lib.mjs'

const quick = process.argv.includes('--quick')
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1].split(',') : undefined
const want = section => only === undefined || only.includes(section)
const SECONDS = quick ? 0.2 : 0.5
const SIZES = quick ? [64 * KB, 600 * KB, 5 * MB] : [16 * KB, 64 * KB, 256 * KB, 600 * KB, MB, 2 * MB, 5 * MB]
const CONCURRENCY = [1, 4, 16]
const here = new URL('.', import.meta.url).pathname
const scratch = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'sai-bench-'))
const results = { machine: machine(), date: new Date().toISOString(), quick, sections: {} }
const targets = []
const log = (...args) => console.log(...args)

function machine() {
  let fs = '?'
  try {
    fs = execFileSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).split('\n')[1].split(/\s+/)[1]
  } catch {}
  return {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    freeGB: Math.round(freemem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    filesystem: fs
  }
}

let currentSection = ''
function target(name, value, limit, direction, note = '') {
  const met = direction === '>=' ? value >= limit : value <= limit
  targets.push({ section: currentSection, name, value, limit: `${direction} ${limit}`, met, note })
  log(`  target ${met ? 'MET ' : 'MISS'} ${name}: ${value} (${direction} ${limit}) ${note}`)
}

const sha256 = bytes => createHash('sha256').update(bytes).digest('hex')

async function fsyncDir(dir) {
  const handle = await open(dir, 'r')
  await handle.sync()
  await handle.close()
}

/** Every shard directory of the default layout, made once: the steady state of a store in use. */
function shardDirs(root) {
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) mkdirSync(join(root, hex(a), hex(b)), { recursive: true })
  }
  return root
}
const hex = n => n.toString(16).padStart(2, '0')

/**
 * The irreducible work of a store in the same layout: SHA-256, a temp file in the shard directory,
 * [fsync], rename into place, [fsync the directory]. Returns the path, to be removed later.
 */
async function limitStore(root, bytes, durable) {
  const name = sha256(bytes)
  const dir = join(root, name.slice(0, 2), name.slice(2, 4))
  const temp = join(dir, `${randomUUID()}.tmp`)
  const handle = await open(temp, 'wx')
  await handle.writeFile(bytes)
  if (durable) await handle.sync()
  await handle.close()
  await rename(temp, join(dir, `${name}.jpg`))
  if (durable) await fsyncDir(dir)
  return join(dir, `${name}.jpg`)
}

/**
 * The least a durable duplicate store costs in plain Node: hash the bytes, read the stored file back and compare,
 * renew its mtime, fsync the renewal (what a store of an existing frame must do: a renewal that a power cut can lose
 * lets retention prune a frame a caller was just told was stored).
 */
async function durableRenewal(path, bytes) {
  const name = sha256(bytes)
  const handle = await open(path, 'r+')
  try {
    const stored = await handle.readFile()
    if (!stored.equals(bytes) || !path.includes(name)) throw new Error('not the same frame')
    const now = new Date()
    await handle.utimes(now, now)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function filesystem() {
  const rows = []
  const base = await mkdtemp(join(scratch, 'fs-'))
  const roots = Object.fromEntries(
    ['durable', 'plain', 'limitDurable', 'limitPlain'].map(name => [name, shardDirs(join(base, name))])
  )
  const durable = new FilesystemDriver({ root: roots.durable })
  const plain = new FilesystemDriver({ root: roots.plain, fsync: false })
  for (const size of SIZES) {
    for (const concurrency of CONCURRENCY) {
      const label = `${size / KB} KB, concurrency ${concurrency}`
      const written = []
      const keep = path => {
        written.push(path)
      }
      const data = payloads(size, concurrency)
      const options = { concurrency, seconds: SECONDS }
      const store = await compare(
        {
          storeDurable: async (_, w) => keep((await durable.store(data.fresh(w))).path),
          limitDurable: async (_, w) => keep(await limitStore(roots.limitDurable, data.fresh(w), true)),
          storeNoFsync: async (_, w) => keep((await plain.store(data.fresh(w))).path),
          limitPlain: async (_, w) => keep(await limitStore(roots.limitPlain, data.fresh(w), false))
        },
        // no writeback of the turn before left to this one: without it a 0.5 s turn's ratio followed the order
        { ...options, beforeEach: () => execFileSync('sync') },
        5
      ) // fsync latency varies most: more rounds
      const stored = await durable.store(data.buffers[0])
      const read = await compare(
        {
          duplicate: async () => durable.store(data.buffers[0]),
          hashAlone: async () => sha256(data.buffers[0]),
          duplicateFloor: async () => await durableRenewal(stored.path, data.buffers[0]),
          fetch: async () => durable.fetch(stored.hash),
          readFileAndHash: async () => sha256(await readFile(stored.path)),
          readFile: async () => readFile(stored.path),
          fetchStream: async () => {
            for await (const _ of await durable.fetchStream(stored.hash));
          },
          existsHit: async () => durable.exists(stored.hash),
          existsMiss: async i => durable.exists(sha256(Buffer.from(`miss ${i}`)))
        },
        options
      )
      const row = {
        size,
        concurrency,
        ...Object.fromEntries(
          Object.entries({ ...store, ...read }).map(([k, v]) => [
            k,
            { opsPerSec: Math.round(v.opsPerSec), meanMs: +v.meanMs.toFixed(3), p99Ms: +v.p99Ms.toFixed(3) }
          ])
        )
      }
      row.ratios = {
        durableVsLimit: ratio(store.storeDurable.opsPerSec, store.limitDurable.opsPerSec),
        noFsyncVsLimit: ratio(store.storeNoFsync.opsPerSec, store.limitPlain.opsPerSec),
        duplicateVsHash: ratio(read.duplicate.meanMs, read.hashAlone.meanMs),
        duplicateVsFloor: ratio(read.duplicate.meanMs, read.duplicateFloor.meanMs),
        fetchVsReadAndHash: ratio(read.fetch.meanMs, read.readFileAndHash.meanMs)
      }
      log(`${label}: ${JSON.stringify(row.ratios)}`)
      rows.push(row)
      await Promise.all([...written, stored.path].map(async path => rm(path, { force: true })))
    }
  }
  await rm(base, { recursive: true, force: true })
  results.sections.filesystem = rows
  const at = (size, c) => rows.find(r => r.size === size && r.concurrency === c)
  for (const c of CONCURRENCY) {
    const r = at(600 * KB, c)
    target(`durable store / durable limit loop (600 KB, c${c})`, r.ratios.durableVsLimit, 0.85, '>=')
    // measured here for the table; its target (>= 0.9, empty and warm store, every run of five) is
    // bench/fsync-off.mjs's: one 0.5 s turn of page-cache writes follows the writeback of the turns before
    // it more than the code (RESULTS.md)
    log(`  fsync-off store / plain loop (600 KB, c${c}): ${r.ratios.noFsyncVsLimit} (target: bench/fsync-off.mjs)`)
  }
  const sequential = at(600 * KB, 1)
  // issue 5's target (<= 1.2 x SHA-256 alone) predates the duplicate's byte comparison and durable renewal
  // (issue 30): reading 600 KB back and fsyncing the renewal cost more than the hash, whatever the code.
  // Replaced by the floor below.
  log(`  duplicate store time / SHA-256 alone (600 KB): ${sequential.ratios.duplicateVsHash} (no target: see the next)`)
  target(
    'duplicate store time / (SHA-256 + read back + compare + durable renewal) (600 KB)',
    sequential.ratios.duplicateVsFloor,
    1.2,
    '<=',
    'the least a duplicate costs that keeps the guarantees: the bytes compared, the new mtime fsynced'
  )
  target('verified fetch time / readFile + SHA-256 (600 KB)', sequential.ratios.fetchVsReadAndHash, 1.3, '<=')
}

async function peer() {
  const rows = []
  for (const size of SIZES) {
    const dir = await mkdtemp(join(scratch, 'peer-'))
    const durable = new FilesystemDriver({ root: join(dir, 'ours') })
    const plain = new FilesystemDriver({ root: join(dir, 'ours-nofsync'), fsync: false })
    const cache = join(dir, 'cacache')
    const data = payloads(size, 1)
    const options = { seconds: SECONDS }
    const puts = await compare(
      {
        oursDurable: async () => durable.store(data.fresh(0)),
        oursNoFsync: async () => plain.store(data.fresh(0)),
        cacachePut: async () => cacache.put(cache, randomUUID(), data.fresh(0), { algorithms: ['sha256'] })
      },
      options
    )
    const ours = await plain.store(data.buffers[0])
    const integrity = await cacache.put(cache, 'fixed', data.buffers[0], { algorithms: ['sha256'] })
    const gets = await compare(
      {
        oursFetch: async () => plain.fetch(ours.hash),
        cacacheGet: async () => cacache.get.byDigest(cache, integrity)
      },
      options
    )
    const row = {
      size,
      opsPerSec: Object.fromEntries(Object.entries({ ...puts, ...gets }).map(([k, v]) => [k, Math.round(v.opsPerSec)])),
      ratios: {
        storeNoFsyncVsCacache: ratio(puts.oursNoFsync.opsPerSec, puts.cacachePut.opsPerSec),
        storeDurableVsCacache: ratio(puts.oursDurable.opsPerSec, puts.cacachePut.opsPerSec),
        fetchVsCacache: ratio(gets.oursFetch.opsPerSec, gets.cacacheGet.opsPerSec)
      }
    }
    log(`cacache ${size / KB} KB: ${JSON.stringify(row.ratios)}`)
    rows.push(row)
    await rm(dir, { recursive: true, force: true })
  }
  results.sections.cacache = rows
  const r = rows.find(row => row.size === 600 * KB)
  target(
    'store ops/s / cacache put (600 KB, both without fsync)',
    r.ratios.storeNoFsyncVsCacache,
    2,
    '>=',
    'cacache does not fsync; durable: ' + r.ratios.storeDurableVsCacache
  )
  target(
    'fetch ops/s / cacache get.byDigest (600 KB; issue 12 asks 1.5, the first benchmarks 2)',
    r.ratios.fetchVsCacache,
    1.5,
    '>='
  )
}

async function memory() {
  const root = await mkdtemp(join(scratch, 'memory-'))
  const child = (...args) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        [join(here, 'memory-child.mjs'), args[0], root, String(quick ? 128 : 512), ...args.slice(1)],
        { encoding: 'utf8' }
      )
    )
  const store = child('store')
  const fetch = child('fetch', store.hash)
  results.sections.memory = { store, fetch }
  log(`memory: ${JSON.stringify(results.sections.memory)}`)
  target(`peak RSS growth, store of a ${store.megabytes} MB stream (MB)`, store.growthMB, 64, '<=')
  target(`peak RSS growth, fetchStream of a ${fetch.megabytes} MB object (MB)`, fetch.growthMB, 64, '<=')
  await rm(root, { recursive: true, force: true })
}

async function scale() {
  const root = await mkdtemp(join(scratch, 'scale-'))
  const storage = new FilesystemDriver({ root, fsync: false })
  const data = payloads(2 * KB, 8, 'scale') // one buffer per worker of fill()
  const hashes = []
  let aged = 0
  const latency = async () => {
    // Every object older than a minute, as most are in a store this size: a fetch of a recent one
    // skips the thread pool (see inPageCache), and at 200 000 objects only the last ones would.
    const hourAgo = new Date(Date.now() - 3600_000)
    for (; aged < hashes.length; aged++) utimesSync(storage.pathOf(hashes[aged]), hourAgo, hourAgo)
    const pick = i => hashes[(i * 7919) % hashes.length]
    const measured = await compare(
      {
        existsHit: async i => storage.exists(pick(i)),
        existsMiss: async i => storage.exists(sha256(Buffer.from(`absent ${i}`))),
        fetch: async i => storage.fetch(pick(i))
      },
      { seconds: SECONDS * 2 }
    )
    return Object.fromEntries(Object.entries(measured).map(([k, v]) => [k, +v.meanMs.toFixed(4)]))
  }
  const fill = async count => {
    await run(
      async (_, w) => {
        hashes.push((await storage.store(data.fresh(w))).hash)
      },
      { concurrency: 8, seconds: 3600, minOps: 0, maxOps: count - hashes.length }
    )
  }
  const small = quick ? 2_000 : 10_000
  const large = quick ? 20_000 : 200_000
  await fill(small)
  const at10k = await latency()
  await fill(large)
  const at200k = await latency()
  results.sections.scale = { objects: [small, large], at10k, at200k }
  log(`scale: ${JSON.stringify(results.sections.scale)}`)
  for (const op of ['existsHit', 'existsMiss', 'fetch'])
    target(`${op} latency at ${large} / at ${small} objects`, ratio(at200k[op], at10k[op]), 1.3, '<=')
  await rm(root, { recursive: true, force: true })
}

async function bulk() {
  const count = quick ? 1000 : 10_000
  const source = await mkdtemp(join(scratch, 'bulk-src-'))
  const data = payloads(64 * KB, 1, 'bulk')
  for (let id = 0; id < count; id++) {
    const dir = join(source, 'original', String(Math.floor(id / 1000)))
    if (id % 1000 === 0) await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `${id}.jpg`), data.fresh(0))
  }
  const rows = []
  for (const concurrency of CONCURRENCY) {
    const root = await mkdtemp(join(scratch, 'bulk-store-'))
    const started = performance.now()
    execFileSync(
      process.execPath,
      [
        join(here, '../dist/cli.js'),
        'import',
        source,
        // a tree no one writes to, made a moment ago: taken as found (the default waits for each file to rest 2 s)
        '--min-age',
        '0s',
        '--mapping',
        join(root, 'map.jsonl'),
        '--concurrency',
        String(concurrency),
        '--json'
      ],
      { env: { ...process.env, SAI_IMAGE_STORAGE_PATH: join(root, 'store') }, encoding: 'utf8' }
    )
    const seconds = (performance.now() - started) / 1000
    rows.push({
      files: count,
      fileKB: 64,
      concurrency,
      seconds: +seconds.toFixed(2),
      filesPerSec: Math.round(count / seconds),
      MBPerSec: +((count * 64) / 1024 / seconds).toFixed(1)
    })
    log(`bulk import c${concurrency}: ${JSON.stringify(rows.at(-1))}`)
    await rm(root, { recursive: true, force: true })
  }
  results.sections.bulk = rows
  await rm(source, { recursive: true, force: true })
}

/** Is Debian's python3 with aiofiles here? Installs python3-aiofiles as root; else says why it skips. */
function pythonPeer() {
  const python = '/usr/bin/python3'
  const ok = () => {
    try {
      execFileSync(python, ['-c', 'import aiofiles'], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  }
  if (ok()) return python
  if (process.getuid?.() === 0) {
    log('installing python3-aiofiles from Debian for the Python peer')
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'python3-aiofiles'], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
      })
    } catch {}
    if (ok()) return python
  }
  log('skipped: the Python peer needs /usr/bin/python3 with aiofiles (apt-get install python3-aiofiles)')
  return undefined
}

/**
 * The fair durable loop: what any durable store must do, and nothing else. SHA-256, make the shard
 * directories, write a temp file, fsync it, rename it into place, fsync its directory, and fsync
 * the parent of every directory it made (or a power cut can lose the new directory, and the file).
 */
async function fairDurableStore(root, bytes) {
  const name = sha256(bytes)
  const dir = join(root, name.slice(0, 2), name.slice(2, 4))
  const created = await mkdir(dir, { recursive: true })
  const temp = join(dir, `${name}.tmp`)
  const handle = await open(temp, 'w')
  await handle.writeFile(bytes)
  await handle.sync()
  await handle.close()
  await rename(temp, join(dir, `${name}.jpg`))
  await fsyncDir(dir)
  if (created !== undefined) {
    for (let parent = dirname(dir); parent.length >= dirname(created).length; parent = dirname(parent))
      await fsyncDir(parent)
  }
}

/**
 * Against the Python module we replace (storage.py's algorithm with aiofiles), sequentially, on
 * real-size JPEG frames, in an empty store and in a warm one (shard directories already there).
 * Each phase is timed inside its own process; rounds alternate between the two.
 */
async function python() {
  const py = pythonPeer()
  if (py === undefined) return
  const rows = []
  const count = quick ? 100 : 300
  for (const size of [164 * KB, 600 * KB]) {
    const framesDir = await mkdtemp(join(scratch, 'frames-'))
    const data = payloads(size, 1, 'python')
    const frames = []
    for (let i = 0; i < count; i++) {
      frames.push(Buffer.from(data.fresh(0)))
      await writeFile(join(framesDir, `${String(i).padStart(5, '0')}.jpg`), frames.at(-1))
    }
    const hashes = frames.map(sha256)
    for (const regime of ['empty', 'warm']) {
      const samples = {}
      const add = (name, opsPerSec) => {
        ;(samples[name] ??= []).push(opsPerSec)
      }
      const timed = async (name, work) => {
        const started = performance.now()
        for (let i = 0; i < frames.length; i++) await work(i)
        add(name, frames.length / ((performance.now() - started) / 1000))
      }
      // The durable pair waits on fsyncs, and swings most between rounds (0.81-1.28 in 10 rounds of
      // 200 frames): 8 rounds of it, 4 of the others.
      for (let round = 0; round < 8; round++) {
        const base = await mkdtemp(join(scratch, 'py-'))
        const roots = Object.fromEntries(['python', 'plain', 'durable', 'fair'].map(name => [name, join(base, name)]))
        for (const root of Object.values(roots)) {
          await mkdir(root, { recursive: true })
          if (regime === 'warm')
            for (const hash of hashes) mkdirSync(join(root, hash.slice(0, 2), hash.slice(2, 4)), { recursive: true })
        }
        const peer = phase => {
          const out = JSON.parse(
            execFileSync(py, [join(here, 'storage_py_peer.py'), roots.python, phase, framesDir], { encoding: 'utf8' })
          )
          results.sections.pythonPeer = out.peer
          return out.opsPerSec
        }
        const plain = new FilesystemDriver({ root: roots.plain, fsync: false })
        const durable = new FilesystemDriver({ root: roots.durable })
        // Each pair runs in turn order, alternating between rounds, and every phase starts with the
        // page cache written back: otherwise the second of a pair meets the first one's writeback.
        const pair = async (...phases) => {
          for (const phase of round % 2 === 0 ? phases : [...phases].reverse()) {
            execFileSync('sync')
            await phase()
          }
        }
        if (round < 4) {
          await pair(
            () => add('pythonStore', peer('store')),
            () => timed('storeNoFsync', async i => plain.store(frames[i]))
          )
          await pair(
            () => add('pythonDuplicate', peer('duplicate')),
            () => timed('duplicate', async i => plain.store(frames[i]))
          )
          // and the floor of a verified fetch in Node: a bare synchronous read of the file and its SHA-256
          await pair(
            () => add('pythonFetch', peer('fetch')),
            () => timed('fetch', async i => plain.fetch(hashes[i])),
            () => timed('nodeReadAndHash', async i => sha256(readFileSync(plain.pathOf(hashes[i]))))
          )
        }
        await pair(
          () => timed('storeDurable', async i => durable.store(frames[i])),
          () => timed('fairDurable', async i => fairDurableStore(roots.fair, frames[i]))
        )
        await Promise.all([plain.close(), durable.close()])
        await rm(base, { recursive: true, force: true })
      }
      const median = list => {
        const s = [...list].sort((a, b) => a - b)
        return (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2
      }
      const opsPerSec = Object.fromEntries(
        Object.entries(samples).map(([name, list]) => [name, Math.round(median(list))])
      )
      const row = {
        size,
        regime,
        frames: count,
        opsPerSec,
        ratios: {
          storeNoFsyncVsPython: ratio(opsPerSec.storeNoFsync, opsPerSec.pythonStore),
          fetchVsPython: ratio(opsPerSec.fetch, opsPerSec.pythonFetch),
          floorVsPython: ratio(opsPerSec.nodeReadAndHash, opsPerSec.pythonFetch),
          duplicateVsPython: ratio(opsPerSec.duplicate, opsPerSec.pythonDuplicate),
          durableVsFairLoop: ratio(opsPerSec.storeDurable, opsPerSec.fairDurable)
        }
      }
      log(`python peer ${size / KB} KB, ${regime} store: ${JSON.stringify(row)}`)
      rows.push(row)
    }
    await rm(framesDir, { recursive: true, force: true })
  }
  results.sections.python = rows
  for (const r of rows) {
    const at = `${r.size / KB} KB, ${r.regime} store`
    target(`store without fsync / Python module's store (${at})`, r.ratios.storeNoFsyncVsPython, 1, '>=')
    target(
      `verified fetch / Python module's unverified fetch (${at})`,
      r.ratios.fetchVsPython,
      1,
      '>=',
      `the floor, readFileSync + SHA-256 in Node: ${r.ratios.floorVsPython}`
    )
    target(
      `duplicate store (bytes compared) / Python module's (exists only) (${at})`,
      r.ratios.duplicateVsPython,
      0.5,
      '>='
    )
    target(`durable store / fair durable loop (${at})`, r.ratios.durableVsFairLoop, 0.9, '>=')
  }
}

/**
 * How long one store or fetch holds the event loop: `monitorEventLoopDelay` while 16 run at once,
 * against the time to hash the same bytes (which a store and a verified fetch must do on the loop).
 * On 2 cores the thread pool's copies compete with the loop for CPU: the same 16 bare `writeFile`s
 * or `readFile`s of the same bytes, measured in alternating rounds, give what the machine adds.
 */
async function eventLoop() {
  const rows = []
  for (const size of [600 * KB, 5 * MB]) {
    const root = await mkdtemp(join(scratch, 'loop-'))
    const storage = new FilesystemDriver({ root })
    const data = payloads(size, 16, 'loop')
    const hashMs = (await compare({ hash: async () => sha256(data.buffers[0]) }, { seconds: SECONDS })).hash.meanMs
    const stored = []
    const bareFiles = []
    await mkdir(join(root, 'bare'))
    const measure = async op => {
      const histogram = monitorEventLoopDelay({ resolution: 1 })
      histogram.enable()
      await run(op, { concurrency: 16, seconds: SECONDS * 2 })
      histogram.disable()
      return { maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6, meanMs: histogram.mean / 1e6 }
    }
    // bare writes with the same SHA-256 on the loop beside them, a 256 KiB slice per turn (as a store hashes): what
    // a loop that hashes while the pool writes waits on 2 cores (RESULTS-full-run.md, session 9: not a sync call)
    const hashedWrite = async bytes => {
      const hash = createHash('sha256')
      const hashing = async () => {
        for (let at = 0; at < bytes.length; at += 256 * KB) {
          await new Promise(resolve => setImmediate(resolve))
          hash.update(bytes.subarray(at, at + 256 * KB))
        }
      }
      const path = join(root, 'bare', randomUUID())
      await Promise.all([writeFile(path, bytes), hashing()])
      hash.digest()
      return path
    }
    const samples = { stores: [], bareWrites: [], bareWritesHashed: [], fetches: [], bareReads: [] }
    for (let round = 0; round < 3; round++) {
      samples.stores.push(
        await measure(async (_, w) => {
          stored.push((await storage.store(data.fresh(w))).hash)
        })
      )
      samples.bareWrites.push(
        await measure(async (_, w) => {
          const path = join(root, 'bare', randomUUID())
          await writeFile(path, data.fresh(w))
          bareFiles.push(path)
        })
      )
      samples.bareWritesHashed.push(await measure(async (_, w) => bareFiles.push(await hashedWrite(data.fresh(w)))))
      samples.fetches.push(await measure(async i => storage.fetch(stored[i % stored.length])))
      samples.bareReads.push(await measure(async i => readFile(bareFiles[i % bareFiles.length])))
    }
    // each figure: the median of the three rounds
    const median = list => [...list].sort((a, b) => a - b)[1]
    const summary = list =>
      Object.fromEntries(['maxMs', 'p99Ms', 'meanMs'].map(k => [k, +median(list.map(x => x[k])).toFixed(2)]))
    const row = {
      size,
      hashMs: +hashMs.toFixed(2),
      ...Object.fromEntries(Object.entries(samples).map(([k, list]) => [k, summary(list)]))
    }
    log(`event loop ${size / KB} KB: ${JSON.stringify(row)}`)
    rows.push(row)
    await rm(root, { recursive: true, force: true })
  }
  results.sections.eventLoop = rows
  for (const r of rows) {
    for (const [ours, bare, what] of [
      ['stores', 'bareWrites', 'stores'],
      ['fetches', 'bareReads', 'fetches']
    ]) {
      const added = +(r[ours].maxMs - r[bare].maxMs).toFixed(2)
      target(
        `longest event-loop delay added by 16 concurrent ${what} over bare I/O (${r.size / KB} KB) / (SHA-256 ` +
          `of the bytes + 1 ms)`,
        ratio(Math.max(0, added), r.hashMs + 1),
        1,
        '<=',
        `ours ${r[ours].maxMs} ms, bare ${r[bare].maxMs} ms, hash ${r.hashMs} ms` +
          (what === 'stores' ? `, bare writes with the hash on the loop ${r.bareWritesHashed.maxMs} ms` : '')
      )
    }
  }
}

async function s3() {
  if (!existsSync('/usr/bin/radosgw')) {
    log(
      'skipped: no Ceph here (apt-get install ceph-mon ceph-osd radosgw ceph-common); the S3 section needs a ' +
        'RADOS Gateway'
    )
    return
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const { startCeph, startGateway } = await import('../test/infra/ceph/cluster.mjs')
  const { S3Driver } = await import('../dist/drivers/s3.js')
  const sdk = await import('@aws-sdk/client-s3')
  // the OSD keeps objects in RAM, about twice their bytes; each row's objects are deleted after it
  const cluster = await startCeph({ memstoreBytes: 8 * 2 ** 30 })
  try {
    const { endpoint, region, accessKeyId, secretAccessKey } = cluster.connection
    const credentials = { accessKeyId, secretAccessKey }
    const Bucket = 'bench'
    const bare = bareS3(sdk, { endpoint, region, credentials })
    await bare.send(new sdk.CreateBucketCommand({ Bucket }))
    const driver = new S3Driver({ endpoint, region, credentials, bucket: Bucket, prefix: 'driver/' })
    const rows = []
    for (const size of [64 * KB, 600 * KB, 2 * MB]) {
      for (const concurrency of [1, 8]) {
        const data = payloads(size, concurrency, 's3')
        const options = { concurrency, seconds: SECONDS * 2 }
        const stores = await compare(
          {
            driverStore: async (_, w) => driver.store(data.fresh(w)),
            barePut: async (_, w) => {
              const body = data.fresh(w)
              await bare.send(new sdk.PutObjectCommand({ Bucket, Key: `bare/${sha256(body)}.jpg`, Body: body }))
            }
          },
          options,
          5
        ) // a gateway on 2 shared cores swings: more rounds
        const { hash, key } = await driver.store(data.buffers[0])
        const fetches = await compare(
          {
            driverFetch: async () => driver.fetch(hash),
            bareGet: async () =>
              (await bare.send(new sdk.GetObjectCommand({ Bucket, Key: `driver/${key}` }))).Body.transformToByteArray()
          },
          options,
          5
        )
        const row = {
          size,
          concurrency,
          opsPerSec: Object.fromEntries(
            Object.entries({ ...stores, ...fetches }).map(([k, v]) => [k, Math.round(v.opsPerSec)])
          ),
          p99Ms: Object.fromEntries(
            Object.entries({ ...stores, ...fetches }).map(([k, v]) => [k, +v.p99Ms.toFixed(2)])
          ),
          // time per operation, as ratios of throughput measured side by side
          ratios: {
            store: ratio(stores.barePut.opsPerSec, stores.driverStore.opsPerSec),
            fetch: ratio(fetches.bareGet.opsPerSec, fetches.driverFetch.opsPerSec)
          }
        }
        log(`s3 ${size / KB} KB c${concurrency}: ${JSON.stringify(row)}`)
        rows.push(row)
        for (let page; (page = await bare.send(new sdk.ListObjectsV2Command({ Bucket }))).KeyCount > 0; ) {
          await Promise.all(page.Contents.map(({ Key }) => bare.send(new sdk.DeleteObjectCommand({ Bucket, Key }))))
        }
      }
    }
    bare.destroy()
    await driver.close()
    results.sections.s3 = rows
    results.sections.s3Nagle = await s3Nagle(sdk, S3Driver, cluster.connection, Bucket, startGateway)
    for (const c of [1, 8]) {
      const r = rows.find(row => row.size === 600 * KB && row.concurrency === c)
      target(`S3 driver store time / bare PutObject (600 KB, c${c})`, r.ratios.store, 1.15, '<=')
      target(`S3 driver fetch time / bare GetObject (600 KB, c${c})`, r.ratios.fetch, 1.15, '<=')
    }
  } finally {
    await cluster.stop()
  }
}

/**
 * Not a target: lone fetches through a second gateway left at Ceph's default (Nagle on), where a
 * GET's last partial segment can wait for the client's delayed ACK (40 ms) at some sizes; the p99s show it.
 */
async function s3Nagle(sdk, S3Driver, connection, Bucket, startGateway) {
  const gateway = await startGateway(connection.conf, { nagle: true })
  const { region, accessKeyId, secretAccessKey } = connection
  const credentials = { accessKeyId, secretAccessKey }
  const bare = bareS3(sdk, { endpoint: gateway.endpoint, region, credentials })
  const driver = new S3Driver({ endpoint: gateway.endpoint, region, credentials, bucket: Bucket, prefix: 'nagle/' })
  const rows = []
  try {
    for (const size of [64 * KB, 300 * KB, 600 * KB, 1000 * KB]) {
      const { hash, key } = await driver.store(payloads(size, 1, 'nagle').buffers[0])
      const fetches = await compare(
        {
          driverFetch: async () => driver.fetch(hash),
          bareGet: async () =>
            (await bare.send(new sdk.GetObjectCommand({ Bucket, Key: `nagle/${key}` }))).Body.transformToByteArray()
        },
        { concurrency: 1, seconds: SECONDS * 2 },
        5
      )
      const row = { size, ...Object.fromEntries(Object.entries(fetches).map(([k, v]) => [k, latency(v)])) }
      log(`s3, a gateway with Nagle on, ${size / KB} KB c1: ${JSON.stringify(row)}`)
      rows.push(row)
    }
  } finally {
    bare.destroy()
    await driver.close()
    await gateway.stop()
  }
  return rows
}

/** The bare client as the driver configures it, so both send the same requests but for ours. */
const bareS3 = (sdk, { endpoint, region, credentials }) =>
  new sdk.S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2
  })

const latency = r => ({
  opsPerSec: Math.round(r.opsPerSec),
  meanMs: +r.meanMs.toFixed(2),
  p50Ms: +r.p50Ms.toFixed(2),
  p99Ms: +r.p99Ms.toFixed(2)
})

try {
  log(`machine: ${JSON.stringify(results.machine)}`)
  for (const [name, section] of Object.entries({
    python,
    eventloop: eventLoop,
    fs: filesystem,
    cacache: peer,
    memory,
    scale,
    bulk,
    s3
  })) {
    if (!want(name)) continue
    currentSection = name
    log(`\n== ${name}`)
    const started = performance.now()
    await section()
    log(`   (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  }
} finally {
  // a failure above may leave writes in flight: never let the cleanup hide it
  await rm(scratch, { recursive: true, force: true }).catch(err => log(`cleanup of ${scratch} failed: ${err.message}`))
}
results.targets = targets
const file = quick ? 'results-quick' : 'results'
// the before-and-after notes carry over; a partial run updates its sections of the last results
const last = JSON.parse(await readFile(join(here, `${file}.json`), 'utf8').catch(() => '{"sections":{},"targets":[]}'))
results.history = last.history
if (only !== undefined) {
  results.sections = { ...last.sections, ...results.sections }
  const ran = new Set(targets.map(t => t.name))
  results.targets = [...last.targets.filter(t => !only.includes(t.section) && !ran.has(t.name)), ...targets]
  results.sectionDates = { ...last.sectionDates, ...Object.fromEntries(only.map(name => [name, results.date])) }
  results.date = last.date ?? results.date
}
await writeFile(join(here, `${file}.json`), JSON.stringify(results, null, 2) + '\n')
await writeFile(join(here, quick ? 'RESULTS-quick.md' : 'RESULTS.md'), (await import('./report.mjs')).report(results))
log(
  `\nwritten: bench/${file}.json, bench/${quick ? 'RESULTS-quick.md' : 'RESULTS.md'}; ` +
    `${targets.filter(t => t.met).length} of ${targets.length} targets met`
)
