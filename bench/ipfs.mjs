// The IPFS driver against a bare `ipfs add` and `ipfs cat` on the same Kubo node and the same
// bytes. Writes bench/RESULTS-ipfs.md and bench/results-ipfs.json (with the machine and the date).
//   npm run build && nice node bench/ipfs.mjs [--quick] [--before path/to/old/dist/drivers/ipfs.js]
// "Bare" is the RPC call itself over node:http with keep-alive (what `curl -F file=@f …/add`
// sends), with the driver's own parameters, and kubo-rpc-client's add and cat beside it. Every
// ratio compares candidates measured in the same run, in interleaved rounds (one call of each
// candidate in turn), each keeping its median round: a noisy neighbour slows all alike.
// --before adds another build of the driver (e.g. the last release) to the same rounds.
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { cpus, loadavg, totalmem } from 'node:os'
import { startKubo } from '../test/infra/kubo/node.mjs'
import { KUBO_VERSION } from '../test/infra/kubo/install.mjs'
import { keptHistory } from './lib.mjs'

const quick = process.argv.includes('--quick')
const before = process.argv.includes('--before') ? process.argv[process.argv.indexOf('--before') + 1] : undefined
const ROUNDS = quick ? 4 : 8
const OPS = quick ? 8 : 20
const SIZES = quick ? [600 * 1024] : [64 * 1024, 600 * 1024, 2 * 1024 * 1024]
const here = new URL('.', import.meta.url).pathname
const PARAMS = {
  'cid-version': 1,
  'raw-leaves': true,
  chunker: 'size-1048576',
  hash: 'sha2-256',
  trickle: false,
  'max-file-links': 174,
  pin: true
}
const CLIENT = {
  cidVersion: 1,
  rawLeaves: true,
  chunker: 'size-1048576',
  hashAlg: 'sha2-256',
  trickle: false,
  maxFileLinks: 174,
  pin: true
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 })
/** One bare RPC call: POST, an optional multipart file, the whole answer read. */
function bare(url, command, params, bytes) {
  const target = new URL(`${url}/api/v0/${command}`)
  for (const [name, value] of Object.entries(params))
    for (const item of [value].flat()) target.searchParams.append(name, String(item))
  const boundary = 'bench-boundary'
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\nContent-Type: application/octet-stream\r\n\r\n`
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return new Promise((resolve, reject) => {
    const headers =
      bytes === undefined
        ? {}
        : {
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': head.length + bytes.length + tail.length
          }
    const req = request(target, { method: 'POST', agent, headers }, res => {
      const chunks = []
      res.on('data', chunk => chunks.push(chunk))
      res.on('end', () =>
        res.statusCode === 200 && res.trailers['x-stream-error'] === undefined
          ? resolve(Buffer.concat(chunks))
          : reject(new Error(`${command}: ${res.statusCode} ${Buffer.concat(chunks)}`))
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    if (bytes !== undefined) {
      req.write(head)
      req.write(bytes)
      req.write(tail)
    }
    req.end()
  })
}

/** A JPEG-looking buffer of `size` random bytes, made new for every call. */
const fresh = size => {
  const bytes = randomBytes(size)
  bytes.set([0xff, 0xd8, 0xff, 0xe0], 0)
  return bytes
}

// A store of this project's size: 1.8M frames a year is ~27 names in each of the index's 256 x 256 shard folders,
// under folders of 256 entries (a flat MFS folder that large is HAMT-sharded: as many levels). The fair floor links
// each add into such a folder (one flush), and the driver stores into the same kind of index: the bytes are drawn
// until their SHA-256 names a folder that holds names (the first HOT x 256 shard folders; all 65,536 exist).
const HOT = 16
const NAMES = 27
const hex2 = n => n.toString(16).padStart(2, '0')
const shard = i => `${hex2(i >> 8)}/${hex2(i & 255)}`
async function pool(count, work, width = 8) {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await work(next++)
    })
  )
}
/** The shard folders of `root`, flushed; ~27 names (markers of nothing, as the driver's) in the hot ones. */
async function populate(url, root) {
  const started = performance.now()
  // unflushed but every 64th (Kubo refuses more than 256 unflushed changes); the first level one by one (parents race)
  for (let i = 0; i < 256; i++) await bare(url, 'files/mkdir', { arg: `${root}/${hex2(i)}`, parents: true })
  await pool(256 * 256, async i =>
    bare(url, 'files/mkdir', { arg: `${root}/${shard(i)}`, parents: true, flush: i % 64 === 0 })
  )
  await pool(HOT * 256 * NAMES, async i => {
    const folder = Math.floor(i / NAMES)
    const name = `${hex2(folder >> 8)}${hex2(folder & 255)}${randomBytes(30).toString('hex')}.${Date.now()}`
    await bare(url, 'files/cp', { arg: ['/ipfs/bafkqaaa', `${root}/${shard(folder)}/${name}`], flush: i % 64 === 0 })
  })
  await bare(url, 'files/flush', { arg: root })
  return +((performance.now() - started) / 1000).toFixed(1)
}
/** Fresh bytes whose SHA-256 names a hot shard folder. */
function freshHot(size) {
  for (;;) {
    const bytes = fresh(size)
    if (Number.parseInt(createHash('sha256').update(bytes).digest('hex').slice(0, 2), 16) < HOT) return bytes
  }
}

/**
 * The floor with what the store's promise names in it: the SHA-256 of the bytes (the entry's name: the index is by
 * content), the add (pin, `to-files` into `folder`) and, beside it, an unflushed marker in the same folder
 * (`files/cp` of nothing, as the driver's: a store's `storedAt` survives a kill -9 of the node), then one flush. It
 * leaves out the driver's own costs: the order (the marker before the pin, for a concurrent prune) and the check
 * of the node's CID against the client's.
 */
async function addMarkFlush(url, folder, bytes) {
  const name = createHash('sha256').update(bytes).digest('hex')
  await Promise.all([
    bare(url, 'files/cp', { arg: ['/ipfs/bafkqaaa', `${folder}/${name}.${Date.now()}`], flush: false }),
    bare(url, 'add', { ...PARAMS, 'to-files': `${folder}/${name}` }, bytes)
  ])
  await bare(url, 'files/flush', { arg: folder })
}

/**
 * Interleaved rounds: in each, OPS calls per candidate, one call of each in turn (the order rotating), so that a
 * burst of load from the machine's other users falls on every candidate alike; each keeps its median round's mean.
 */
async function compare(candidates) {
  const names = Object.keys(candidates)
  const rounds = Object.fromEntries(names.map(name => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    const sums = Object.fromEntries(names.map(name => [name, 0]))
    for (let i = 0; i < OPS; i++) {
      const order = names.map((_, j) => names[(i + j) % names.length])
      if ((round + i) % 2 === 1) order.reverse()
      for (const name of order) {
        const started = performance.now()
        await candidates[name](i)
        sums[name] += performance.now() - started
      }
    }
    for (const name of names) rounds[name].push(sums[name] / OPS)
  }
  return Object.fromEntries(
    Object.entries(rounds).map(([name, means]) => [
      name,
      +means.sort((a, b) => a - b)[Math.floor(means.length / 2)].toFixed(2)
    ])
  )
}

const ratio = (a, b) => Math.round((a / b) * 1000) / 1000

async function section(label, nodeOptions) {
  const node = await startKubo(nodeOptions)
  const { IpfsDriver } = await import('../dist/drivers/ipfs.js')
  const { create } = await import('kubo-rpc-client')
  const Before = before === undefined ? undefined : (await import(before)).IpfsDriver
  const rows = []
  let populateSeconds
  try {
    const driver = new IpfsDriver({ url: node.url })
    const old = Before === undefined ? undefined : new Before({ url: node.url })
    const client = create({ url: node.url })
    // the default node only: a store, and the floor, at an index of a year's frames
    const deep =
      nodeOptions.flatfsSync === undefined ? new IpfsDriver({ url: node.url, indexPath: '/deep' }) : undefined
    if (deep !== undefined) populateSeconds = await populate(node.url, '/deep')
    for (const size of SIZES) {
      // the floor's folder is new every turn (made before it), so it holds at most OPS entries, like the
      // driver's shard folders: a flush re-encodes the folder, and one that grew all run would flatter us
      for (let round = 0; round < ROUNDS; round++)
        await bare(node.url, 'files/mkdir', { arg: `/bench-floor-${size}-${round}`, parents: true })
      for (let round = 0; round < ROUNDS; round++)
        await bare(node.url, 'files/mkdir', { arg: `/bench-marked-${size}-${round}`, parents: true })
      let floorCalls = 0
      let markedCalls = 0
      const stores = await compare({
        driverStore: async () => await driver.store(fresh(size)),
        bareAdd: async () => await bare(node.url, 'add', PARAMS, fresh(size)),
        // the least an index entry that survives a kill -9 costs: the add linking it, one flush
        floorAdd: async () => {
          const folder = `/bench-floor-${size}-${Math.floor(floorCalls++ / OPS)}`
          await bare(
            node.url,
            'add',
            { ...PARAMS, 'to-files': `${folder}/${randomBytes(16).toString('hex')}` },
            fresh(size)
          )
          await bare(node.url, 'files/flush', { arg: folder })
        },
        floorMarked: async () =>
          await addMarkFlush(node.url, `/bench-marked-${size}-${Math.floor(markedCalls++ / OPS)}`, fresh(size)),
        clientAdd: async () => await client.add(fresh(size), CLIENT),
        ...(old === undefined ? {} : { beforeStore: async () => await old.store(fresh(size)) })
      })
      const stored = []
      for (let i = 0; i < OPS; i++) stored.push(await driver.store(fresh(size)))
      const fetches = await compare({
        driverFetch: async i => await driver.fetch(stored[i].hash),
        bareCat: async i => await bare(node.url, 'cat', { arg: stored[i].hash }),
        // the least a fetch that checks the pin and the bytes costs: pin/ls beside the cat, then SHA-256
        // (every fetch here is of a single-block image or of 2 MiB, whose CID needs the importer: hashed
        // once here, so at 2 MiB this floor is lower than what any verifying client pays)
        verifiedCat: async i => {
          const [, bytes] = await Promise.all([
            bare(node.url, 'pin/ls', { arg: stored[i].hash, type: 'recursive' }),
            bare(node.url, 'cat', { arg: stored[i].hash })
          ])
          return createHash('sha256').update(bytes).digest('hex')
        },
        clientCat: async i => {
          const chunks = []
          for await (const chunk of client.cat(stored[i].hash)) chunks.push(chunk)
          return Buffer.concat(chunks)
        },
        ...(old === undefined ? {} : { beforeFetch: async i => await old.fetch(stored[i].hash) })
      })
      const others = await compare({
        duplicateStore: async i => await driver.store(await driver.fetch(stored[i].hash)),
        fetchBySha256: async i => await driver.fetch(stored[i].sha256),
        exists: async i => await driver.exists(stored[i].sha256)
      })
      const atDepth = deep === undefined || size > 1024 * 1024 ? undefined : await storesAtDepth(node.url, deep, size)
      const row = {
        size,
        meanMs: { ...stores, ...fetches, ...others, ...atDepth },
        ratios: {
          store: ratio(stores.driverStore, stores.bareAdd),
          floor: ratio(stores.floorAdd, stores.bareAdd),
          storeVsFloor: ratio(stores.driverStore, stores.floorAdd),
          markedVsFloor: ratio(stores.floorMarked, stores.floorAdd),
          storeVsMarked: ratio(stores.driverStore, stores.floorMarked),
          storeVsClient: ratio(stores.driverStore, stores.clientAdd),
          fetch: ratio(fetches.driverFetch, fetches.bareCat),
          fetchVsClient: ratio(fetches.driverFetch, fetches.clientCat),
          fetchVsVerified: ratio(fetches.driverFetch, fetches.verifiedCat),
          ...(atDepth === undefined
            ? {}
            : {
                deepStoreVsDeepFloor: ratio(atDepth.deepStore, atDepth.deepFloor),
                deepStoreVsDeepMarked: ratio(atDepth.deepStore, atDepth.deepMarked),
                deepFloorVsFloor: ratio(atDepth.deepFloor, atDepth.deepFloorNew),
                deepStoreVsBare: ratio(atDepth.deepStore, stores.bareAdd)
              }),
          ...(old === undefined
            ? {}
            : {
                beforeStore: ratio(stores.beforeStore, stores.bareAdd),
                beforeVsFloor: ratio(stores.beforeStore, stores.floorAdd),
                beforeFetch: ratio(fetches.beforeFetch, fetches.bareCat)
              })
        }
      }
      console.log(`${label} ${size / 1024} KB: ${JSON.stringify(row)}`)
      rows.push(row)
    }
  } finally {
    await node.stop()
  }
  return { label, flatfsSync: nodeOptions.flatfsSync === true, rows, populateSeconds }
}

/** The driver's store and the fair floor (an add linked at the index's depth, one flush), in a populated index. */
async function storesAtDepth(url, deep, size) {
  // made before, for both: the driver's are drawn (not timed)
  const ready = Array.from({ length: ROUNDS * OPS }, () => freshHot(size))
  const plain = Array.from({ length: 3 * ROUNDS * OPS }, () => fresh(size))
  // the issue's floor again, its bytes made before too, in these rounds: the ratio of the two floors is like for like
  for (let round = 0; round < ROUNDS; round++)
    await bare(url, 'files/mkdir', { arg: `/deep-floor-new-${size}-${round}`, parents: true })
  let newCalls = 0
  return await compare({
    deepFloorNew: async () => {
      const folder = `/deep-floor-new-${size}-${Math.floor(newCalls++ / OPS)}`
      await bare(url, 'add', { ...PARAMS, 'to-files': `${folder}/${randomBytes(16).toString('hex')}` }, plain.pop())
      await bare(url, 'files/flush', { arg: folder })
    },
    deepStore: async () => await deep.store(ready.pop()),
    deepFloor: async () => {
      const folder = `/deep/${shard(Math.floor(Math.random() * HOT * 256))}`
      await bare(url, 'add', { ...PARAMS, 'to-files': `${folder}/${randomBytes(32).toString('hex')}` }, plain.pop())
      await bare(url, 'files/flush', { arg: folder })
    },
    deepMarked: async () =>
      await addMarkFlush(url, `/deep/${shard(Math.floor(Math.random() * HOT * 256))}`, plain.pop())
  })
}

const machine = {
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  memoryGB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  kubo: KUBO_VERSION,
  loadAtStart: loadavg().map(l => +l.toFixed(2))
}
try {
  machine.filesystem = execFileSync('df', ['-T', '/tmp'], { encoding: 'utf8' }).split('\n')[1].split(/\s+/)[1]
} catch {}
const sections = [
  await section('flatfs sync false (Kubo default)', {}),
  ...(quick ? [] : [await section('flatfs sync true (power-cut safe)', { flatfsSync: true })])
]
machine.loadAtEnd = loadavg().map(l => +l.toFixed(2))
const at600 = sections[0].rows.find(row => row.size === 600 * 1024)
// issue 33: a store <= 1.5x a bare add, or (the durable index entry costs an add linked into MFS
// plus one flush, itself about 1.5x a bare add) <= 1.15x that floor, at every size
const targets = [
  ...sections[0].rows.map(row => ({
    name: `store / bare add, or store / (add + flush) (${row.size / 1024} KB, default node)`,
    value: `${row.ratios.store}, ${row.ratios.storeVsFloor}`,
    limit: '<= 1.5, or <= 1.15',
    met: row.ratios.store <= 1.5 || row.ratios.storeVsFloor <= 1.15
  })),
  {
    name: 'fetch / bare cat (600 KB, default node)',
    value: at600.ratios.fetch,
    limit: '<= 1.15',
    met: at600.ratios.fetch <= 1.15
  }
]
const results = { date: new Date().toISOString(), machine, quick, rounds: ROUNDS, opsPerRound: OPS, sections, targets }
for (const t of targets) console.log(`target ${t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.value} (${t.limit})`)
if (quick) process.exit(0) // a quick run is for a look, not for the record
const last = JSON.parse(readFileSync(`${here}results-ipfs.json`, 'utf8'))
results.history = [
  ...(last.history ?? []),
  ...(last.date === undefined ? [] : [{ date: last.date, targets: last.targets }])
].slice(-10)
writeFileSync(`${here}results-ipfs.json`, JSON.stringify(results, null, 2) + '\n')

const kb = size => (size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : `${size / 1024} KB`)
const lines = [
  '# IPFS driver against bare Kubo calls',
  '',
  `${results.date}, ${machine.cpu} (${machine.cores} cores), Node ${machine.node}, Kubo ${machine.kubo}, ` +
    `${machine.filesystem ?? '?'}; load ${machine.loadAtStart.join(' ')} at the start, ` +
    `${machine.loadAtEnd.join(' ')} at the end.`,
  `Mean ms per call, the median of ${ROUNDS} interleaved rounds of ${OPS} calls each (one call of each candidate in turn, the order rotating). \`bare\` is the RPC call over node:http with keep-alive and the driver's parameters; \`add + flush\` is a bare add that links the object into MFS (\`to-files\`) and one \`files/flush\`, the least that an index entry surviving a kill -9 of the node costs (in a new folder every turn, at most ${OPS} entries, like the driver's shard folders); \`SHA-256, add + marker + flush\` is that floor with what a store's promise names in it: the SHA-256 of the bytes first (the entry's name), and the store's time (an unflushed marker, \`files/cp\` of nothing into the same folder, beside the add), but not the driver's own costs (the marker before the pin, the CID checked); \`cat + pin/ls + SHA-256\` is the least a fetch that checks the pin and the bytes costs; \`client\` is kubo-rpc-client.${before ? ' `before`: the build given with --before, in the same rounds.' : ''}`,
  ''
]
for (const { label, rows } of sections) {
  lines.push(
    `## ${label}`,
    '',
    '| size | driver store | bare add | add + flush | client add | store / bare | add + flush / bare | store / (add + flush) | SHA-256, add + marker + flush | that / (add + flush) | store / that | driver fetch | bare cat | client cat | fetch / bare | cat + pin/ls + SHA-256 | fetch / that | duplicate store | fetch by SHA-256 | exists |' +
      (before ? ' before: store / bare | before: store / (add + flush) | before: fetch / bare |' : ''),
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |' +
      (before ? ' --- | --- | --- |' : '')
  )
  for (const { size, meanMs: m, ratios: r } of rows) {
    lines.push(
      `| ${kb(size)} | ${m.driverStore} | ${m.bareAdd} | ${m.floorAdd} | ${m.clientAdd} | **${r.store}** | ` +
        `${r.floor} | **${r.storeVsFloor}** | ${m.floorMarked} | ${r.markedVsFloor} | **${r.storeVsMarked}** | ` +
        `${m.driverFetch} | ${m.bareCat} | ${m.clientCat} | **${r.fetch}** | ${m.verifiedCat} | ${r.fetchVsVerified} | ` +
        `${m.duplicateStore} | ${m.fetchBySha256} | ${m.exists} |` +
        (before ? ` ${r.beforeStore} | ${r.beforeVsFloor} | ${r.beforeFetch} |` : '')
    )
  }
  lines.push('')
}
const deepRows = sections[0].rows.filter(row => row.meanMs.deepStore !== undefined)
if (deepRows.length > 0)
  lines.push(
    `## At an index of a year's frames (default node; populated in ${sections[0].populateSeconds} s)`,
    '',
    `Every one of the 65,536 shard folders exists under folders of 256 entries, the first ${HOT} x 256 hold ` +
      `${NAMES} names each (1.8M frames a year); the driver stores bytes whose SHA-256 names one of those, and the ` +
      'fair floor links each add into one of them (at the same depth) and flushes that folder, once without and once ' +
      "with a marker beside the add (as above); the issue's floor " +
      '(a new folder under the root every turn) again in the same rounds. The bytes of all three are made before ' +
      "the rounds (in the tables above, each call makes its own). Beside the issue's floor, not instead of it.",
    '',
    '| size | driver store | add + flush at depth | store / that | SHA-256, add + marker + flush at depth | store / that | ' +
      'add + flush, new folder | at depth / new folder | store / bare add |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...deepRows.map(
      ({ size, meanMs: m, ratios: r }) =>
        `| ${kb(size)} | ${m.deepStore} | ${m.deepFloor} | **${r.deepStoreVsDeepFloor}** | ${m.deepMarked} | ` +
        `**${r.deepStoreVsDeepMarked}** | ${m.deepFloorNew} | ` +
        `${r.deepFloorVsFloor} | ` +
        `${r.deepStoreVsBare} |`
    ),
    ''
  )
lines.push(
  '## Targets',
  '',
  ...targets.map(t => `- ${t.met ? 'MET' : 'MISSED'}: ${t.name} = ${t.value} (${t.limit})`),
  ''
)
writeFileSync(`${here}RESULTS-ipfs.md`, lines.join('\n') + keptHistory(`${here}RESULTS-ipfs.md`))
process.exit(0)
