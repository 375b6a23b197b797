// Where an IPFS store's time goes: the driver's RPC calls to Kubo, counted and timed through a
// recording proxy in a child process (request start, last request byte, first and last answer
// byte), beside the bench's floor (an add linked into MFS + one flush) through the same proxy.
// Run with `node --cpu-prof` for the client's side. Not part of `npm run bench`.
//   npm run build && node bench/ipfs-profile.mjs [--stores 100] [--sizes 65536,614400,2097152]
import { fork } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { startKubo } from '../test/infra/kubo/node.mjs'

const arg = (name, fallback) =>
  process.argv.includes(`--${name}`) ? process.argv[process.argv.indexOf(`--${name}`) + 1] : fallback
const STORES = Number(arg('stores', '100'))
const SIZES = arg('sizes', '65536,614400,2097152').split(',').map(Number)
// --compare a,b: driver builds (node_modules/.perf-variants/<name>.mjs, `dist` for ../dist) in interleaved
// rounds beside the floor, no proxy: each keeps its median round's mean ms per store
// (a build: npx esbuild src/drivers/ipfs/index.ts --bundle --platform=node --format=esm --packages=external
//  --outfile=node_modules/.perf-variants/<name>.mjs; --warm makes the stores' shard folders first)
const COMPARE = arg('compare', undefined)?.split(',')

if (process.argv[2] === 'proxy') {
  // child: forwards to the node, records each exchange, sends the records on request
  const { createServer, request, Agent } = await import('node:http')
  const target = new URL(process.argv[3])
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const records = []
  const t = () => performance.timeOrigin + performance.now()
  const server = createServer((req, res) => {
    const record = { command: req.url.split('?')[0].replace('/api/v0/', ''), start: t() }
    const up = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent },
      answer => {
        record.firstByte = t()
        res.writeHead(answer.statusCode, answer.headers)
        answer.pipe(res, { end: false })
        answer.on('end', () => {
          record.end = t()
          res.addTrailers(answer.trailers)
          res.end()
          records.push(record)
        })
      }
    )
    req.pipe(up)
    req.on('end', () => {
      record.sent = t()
    })
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  process.on('message', message => {
    if (message === 'take') process.send({ records: records.splice(0) })
  })
} else if (COMPARE !== undefined) {
  const node = await startKubo()
  const fresh = size => {
    const bytes = randomBytes(size)
    bytes.set([0xff, 0xd8, 0xff, 0xe0], 0)
    return bytes
  }
  const drivers = {}
  for (const name of COMPARE) {
    const url = name === 'dist' ? '../dist/drivers/ipfs.js' : `../node_modules/.perf-variants/${name}.mjs`
    drivers[name] = new (await import(url)).IpfsDriver({ url: node.url })
    await drivers[name].store(fresh(1000))
  }
  const base = `${node.url}/api/v0`
  await fetch(`${base}/files/mkdir?arg=/floor&parents=true`, { method: 'POST' })
  const q = 'cid-version=1&raw-leaves=true&chunker=size-1048576&hash=sha2-256&trickle=false&max-file-links=174&pin=true'
  const floor = async size => {
    const form = new FormData()
    form.append('file', new Blob([fresh(size)]), 'f')
    const name = randomBytes(16).toString('hex')
    await (await fetch(`${base}/add?${q}&to-files=/floor/${name}`, { method: 'POST', body: form })).arrayBuffer()
    await (await fetch(`${base}/files/flush?arg=/floor`, { method: 'POST' })).arrayBuffer()
  }
  const rounds = Number(arg('rounds', '8'))
  try {
    for (const size of SIZES) {
      const candidates = { floor: () => floor(size) }
      for (const [name, d] of Object.entries(drivers)) {
        // --warm: the bytes made before, their shard folders too (a node that has stored before)
        const ready = []
        if (process.argv.includes('--warm'))
          for (let i = 0; i < rounds * STORES; i++) {
            const bytes = fresh(size)
            const h = createHash('sha256').update(bytes).digest('hex')
            const dir = `/sai-images/${h.slice(0, 2)}/${h.slice(2, 4)}`
            await (await fetch(`${base}/files/mkdir?arg=${dir}&parents=true`, { method: 'POST' })).arrayBuffer()
            ready.push(bytes)
          }
        candidates[name] = () => d.store(ready.pop() ?? fresh(size))
      }
      const means = Object.fromEntries(Object.keys(candidates).map(n => [n, []]))
      for (let r = 0; r < rounds; r++) {
        const order = Object.entries(candidates)
        if (r % 2 === 1) order.reverse()
        for (const [name, op] of order) {
          const s = performance.now()
          for (let i = 0; i < STORES; i++) await op()
          means[name].push((performance.now() - s) / STORES)
        }
      }
      const med = v => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]
      const f = med(means.floor)
      console.log(
        `${size} bytes: floor ${f.toFixed(2)} ms; ` +
          Object.keys(drivers)
            .map(n => `${n} ${med(means[n]).toFixed(2)} ms (${(med(means[n]) / f).toFixed(3)}x)`)
            .join(', ')
      )
    }
  } finally {
    for (const d of Object.values(drivers)) await d.close()
    await node.stop()
  }
} else {
  const node = await startKubo()
  const proxy = fork(new URL(import.meta.url).pathname, ['proxy', node.url])
  const { port } = await new Promise(resolve => proxy.once('message', resolve))
  const take = () =>
    new Promise(resolve => {
      proxy.once('message', m => resolve(m.records))
      proxy.send('take')
    })
  const { IpfsDriver } = await import('../dist/drivers/ipfs.js')
  const direct = new IpfsDriver({ url: node.url })
  const proxied = new IpfsDriver({ url: `http://127.0.0.1:${port}`, timeoutMs: 30_000 })
  const fresh = size => {
    const bytes = randomBytes(size)
    bytes.set([0xff, 0xd8, 0xff, 0xe0], 0)
    return bytes
  }
  const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  const ms = v => +v.toFixed(2)
  await direct.store(fresh(1000))
  await proxied.store(fresh(1000))
  await fetch(`${node.url}/api/v0/files/mkdir?arg=/floor&parents=true`, { method: 'POST' })
  await take()
  try {
    for (const size of SIZES) {
      const direct_ = []
      for (let i = 0; i < STORES; i++) {
        const s = performance.now()
        await direct.store(fresh(size))
        direct_.push(performance.now() - s)
      }
      const stores = []
      const perStore = []
      for (let i = 0; i < STORES; i++) {
        const bytes = fresh(size)
        const start = performance.timeOrigin + performance.now()
        await proxied.store(bytes)
        const end = performance.timeOrigin + performance.now()
        stores.push(end - start)
        perStore.push({ start, end, records: await take() })
      }
      const byCommand = {}
      const gaps = { beforeFirst: [], afterLast: [], idleBetween: [] }
      for (const { start, end, records } of perStore) {
        records.sort((a, b) => a.start - b.start)
        gaps.beforeFirst.push(records[0].start - start)
        gaps.afterLast.push(end - Math.max(...records.map(r => r.end)))
        let covered = records[0].start
        let idle = 0
        for (const r of records) {
          if (r.start > covered) idle += r.start - covered
          covered = Math.max(covered, r.end)
        }
        gaps.idleBetween.push(idle)
        for (const r of records) {
          const c = (byCommand[r.command] ??= { count: 0, total: [], upload: [], wait: [], offset: [] })
          c.count++
          c.total.push(r.end - r.start)
          c.upload.push(r.sent - r.start)
          c.wait.push(r.firstByte - r.sent)
          c.offset.push(r.start - start)
        }
      }
      console.log(
        `\n${size} bytes, ${STORES} stores: direct median ${ms(median(direct_))} ms, proxied ${ms(median(stores))} ms`
      )
      for (const [name, v] of Object.entries(gaps)) console.log(`  ${name.padEnd(28)} median ${ms(median(v))} ms`)
      for (const [command, c] of Object.entries(byCommand))
        console.log(
          `  ${command.padEnd(12)} ${(c.count / STORES).toFixed(2)}/store  total ${ms(median(c.total))}` +
            `  upload ${ms(median(c.upload))}  node ${ms(median(c.wait))}  starts at +${ms(median(c.offset))} ms`
        )
      // the floor through the same proxy: add with to-files into a flat folder, one flush
      const floor = []
      for (let i = 0; i < STORES; i++) {
        const bytes = fresh(size)
        const s = performance.now()
        const form = new FormData()
        form.append('file', new Blob([bytes]), 'f')
        const q = 'cid-version=1&raw-leaves=true&chunker=size-1048576&hash=sha2-256&trickle=false&max-file-links=174'
        const base = `http://127.0.0.1:${port}/api/v0`
        const a = await fetch(`${base}/add?${q}&pin=true&to-files=/floor/${size}-${i}`, { method: 'POST', body: form })
        await a.arrayBuffer()
        await (await fetch(`${base}/files/flush?arg=/floor`, { method: 'POST' })).arrayBuffer()
        floor.push(performance.now() - s)
      }
      const records = await take()
      const cmds = {}
      for (const r of records) (cmds[r.command] ??= []).push(r.end - r.start)
      console.log(
        `  floor (fetch client) median ${ms(median(floor))} ms; ` +
          Object.entries(cmds)
            .map(([c, v]) => `${c} ${ms(median(v))}`)
            .join(', ')
      )
    }
  } finally {
    await direct.close()
    await proxied.close()
    proxy.kill()
    await node.stop()
  }
}
