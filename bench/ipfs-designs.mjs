// Issue 33: candidate store protocols for the IPFS driver, as bare RPC calls on one Kubo node, against the floor.
//   heavy node bench/ipfs-designs.mjs [--quick]
// Every candidate links a fresh object into an existing folder at the index's depth (/d/<n>/x/y, at most OPS
// entries, made before the round) and flushes that folder once; `floor1` is the floor (1 folder deep).
//   floor   the add (pin, to-files) and one flush: the least a durable entry costs, with no marker at all
//   now     the driver's protocol: a marker (files/cp, unflushed) beside the add, the add's last byte held until
//           the marker is answered (the marker must exist before the pin: removal.ts), then one flush
//   multi   one add of two files into the folder (to-files ending in /): the marker (empty, inlined as bafkqaaa)
//           first, then the object; Kubo links each file before it reads the next, so the marker precedes the pin
//   piped   the marker and the add pipelined on one connection (HTTP/1.1): Kubo's server runs a connection's
//           requests one after another, so the marker is made before the add is read, without a round trip
//   post    no gate: the marker beside the add, then the pin and the entry checked after the marker (pin/ls and
//           files/stat beside the flush): the order a prune needs is the marker before the check
// Up to 1 MiB, the same three ways into an index like the driver's (/idx/ab/cd, 4,096 folders made before, the
// bytes drawn before so their SHA-256 names one of them), and the driver's own store into it (`driver`).
// Prints mean ms per store (the median of interleaved rounds, order alternating) and ratios; writes nothing.
import { createHash, randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { startKubo } from '../test/infra/kubo/node.mjs'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 4 : 12
const OPS = quick ? 8 : 20
const SIZES = quick ? [64 * 1024] : [64 * 1024, 600 * 1024, 2 * 1024 * 1024]
const PARAMS = {
  'cid-version': 1,
  'raw-leaves': true,
  chunker: 'size-1048576',
  hash: 'sha2-256',
  trickle: false,
  'max-file-links': 174,
  pin: true
}
const BOUNDARY = 'bench-boundary'
const agent = new Agent({ keepAlive: true, maxSockets: 16 })

const query = params => {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params))
    for (const item of [value].flat()) search.append(name, String(item))
  return search.toString()
}
/** A multipart body of named files. */
function multipart(files) {
  const pieces = []
  for (const [name, bytes] of files) {
    const head =
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${encodeURIComponent(name)}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n'
    pieces.push(Buffer.from(head), bytes, Buffer.from('\r\n'))
  }
  pieces.push(Buffer.from(`--${BOUNDARY}--\r\n`))
  return Buffer.concat(pieces)
}
/**
 * One RPC call over keep-alive; the last file's last byte waits for `gate` if given (as the driver's: a held byte of
 * the closing boundary would not hold the pin, since Kubo ends the file, imports and pins it once it has read the
 * boundary). Rejects on any error.
 */
function call(url, command, params, files, gate) {
  const body = files === undefined ? undefined : multipart(files)
  return new Promise((resolve, reject) => {
    const headers =
      body === undefined
        ? {}
        : { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': body.length }
    const req = request(`${url}/api/v0/${command}?${query(params)}`, { method: 'POST', agent, headers }, res => {
      const chunks = []
      res.on('data', chunk => chunks.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        const failed = res.statusCode !== 200 || res.trailers['x-stream-error'] !== undefined
        failed ? reject(new Error(`${command}: ${text} ${res.trailers['x-stream-error']}`)) : resolve(text)
      })
    })
    req.on('error', reject)
    if (body === undefined) req.end()
    else if (gate === undefined) req.end(body)
    else {
      const held = body.length - Buffer.byteLength(`\r\n--${BOUNDARY}--\r\n`) - 1
      req.write(body.subarray(0, held))
      gate.then(() => req.end(body.subarray(held)), reject)
    }
  })
}
/** The marker and the add pipelined on a new connection; resolves when both answers (200, no trailer error) came. */
function piped(url, marker, toFiles, bytes) {
  const { hostname, port } = new URL(url)
  const body = multipart([['f', bytes]])
  const host = `Host: ${hostname}:${port}\r\n`
  const first = `POST /api/v0/files/cp?${query({ arg: ['/ipfs/bafkqaaa', marker], parents: true, flush: false })}`
  const second =
    `POST /api/v0/add?${query({ ...PARAMS, 'to-files': toFiles })} HTTP/1.1\r\n${host}` +
    `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${body.length}\r\n` +
    'Connection: close\r\n\r\n'
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.setNoDelay(true)
      socket.write(`${first} HTTP/1.1\r\n${host}Content-Length: 0\r\n\r\n${second}`)
      socket.write(body) // not end(): Kubo's server reads a half-closed connection as the client gone
    })
    const chunks = []
    socket.on('data', chunk => chunks.push(chunk))
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const answers = text.match(/HTTP\/1\.1 200/g)?.length ?? 0
      answers === 2 && !/X-Stream-Error: \S/i.test(text) ? resolve(text) : reject(new Error(text.slice(0, 500)))
    })
    socket.on('error', reject)
  })
}

const fresh = size => {
  const bytes = randomBytes(size)
  bytes.set([0xff, 0xd8, 0xff, 0xe0], 0)
  return bytes
}
const sha256 = bytes => createHash('sha256').update(bytes).digest('hex')
const marker = (folder, sha) => ['/ipfs/bafkqaaa', `${folder}/${sha}.${Date.now()}`]

const candidates = (url, size) => ({
  floor: async folder => {
    const bytes = fresh(size)
    await call(url, 'add', { ...PARAMS, 'to-files': `${folder}/${sha256(bytes)}` }, [['f', bytes]])
    await call(url, 'files/flush', { arg: folder })
  },
  floor1: async folder => {
    const top = folder.split('/').slice(0, 3).join('/') // /d/<n>: one folder deep, like the floor
    const bytes = fresh(size)
    await call(url, 'add', { ...PARAMS, 'to-files': `${top}/${sha256(bytes)}` }, [['f', bytes]])
    await call(url, 'files/flush', { arg: top })
  },
  now: async folder => {
    const bytes = fresh(size)
    const sha = sha256(bytes)
    const marking = call(url, 'files/cp', { arg: marker(folder, sha), parents: true, flush: false })
    await call(url, 'add', { ...PARAMS, 'to-files': `${folder}/${sha}` }, [['f', bytes]], marking)
    await marking
    await call(url, 'files/flush', { arg: folder })
  },
  multi: async folder => {
    const bytes = fresh(size)
    const sha = sha256(bytes)
    const params = { ...PARAMS, inline: true, 'inline-limit': 0, 'to-files': `${folder}/` }
    await call(url, 'add', params, [
      [`${sha}.${Date.now()}`, Buffer.alloc(0)],
      [sha, bytes]
    ])
    await call(url, 'files/flush', { arg: folder })
  },
  piped: async folder => {
    const bytes = fresh(size)
    const sha = sha256(bytes)
    await piped(url, marker(folder, sha)[1], `${folder}/${sha}`, bytes)
    await call(url, 'files/flush', { arg: folder })
  },
  post: async folder => {
    const bytes = fresh(size)
    const sha = sha256(bytes)
    const marking = call(url, 'files/cp', { arg: marker(folder, sha), parents: true, flush: false })
    const added = await call(url, 'add', { ...PARAMS, 'to-files': `${folder}/${sha}` }, [['f', bytes]])
    await marking
    const cid = JSON.parse(added.trim().split('\n').pop()).Hash
    await Promise.all([
      call(url, 'files/flush', { arg: folder }),
      call(url, 'pin/ls', { arg: cid, type: 'recursive' }),
      call(url, 'files/stat', { arg: `${folder}/${sha}`, hash: true })
    ])
  }
})

/** Fresh bytes whose SHA-256 names a folder made before (/idx/0?/??). */
function hot(size) {
  const bytes = fresh(size)
  for (let n = 0; ; n++) {
    bytes.writeUInt32BE(n, 4)
    if (sha256(bytes) < '1') return bytes
  }
}
const inIndex = (url, driver, size) => {
  const ready = { floorIdx: [], nowIdx: [], driver: [] }
  for (const list of Object.values(ready)) for (let i = 0; i < ROUNDS * OPS; i++) list.push(hot(size))
  const folderOf = sha => `/idx/${sha.slice(0, 2)}/${sha.slice(2, 4)}`
  return {
    floorIdx: async () => {
      const bytes = ready.floorIdx.pop()
      const sha = sha256(bytes)
      await call(url, 'add', { ...PARAMS, 'to-files': `${folderOf(sha)}/${sha}` }, [['f', bytes]])
      await call(url, 'files/flush', { arg: folderOf(sha) })
    },
    nowIdx: async () => {
      const bytes = ready.nowIdx.pop()
      const sha = sha256(bytes)
      const folder = folderOf(sha)
      const marking = call(url, 'files/cp', { arg: marker(folder, sha), parents: true, flush: false })
      await call(url, 'add', { ...PARAMS, 'to-files': `${folder}/${sha}` }, [['f', bytes]], marking)
      await marking
      await call(url, 'files/flush', { arg: folder })
    },
    driver: async () => await driver.store(ready.driver.pop())
  }
}

const node = await startKubo()
const { IpfsDriver } = await import('../dist/drivers/ipfs.js')
const driver = new IpfsDriver({ url: node.url, indexPath: '/idx' })
let folders = 0
try {
  for (let i = 0; i < 16 * 256; i++) {
    const folder = `/idx/0${(i >> 8).toString(16)}/${(i & 255).toString(16).padStart(2, '0')}`
    await call(node.url, 'files/mkdir', { arg: folder, parents: true, flush: i % 64 === 63 })
  }
  await call(node.url, 'files/flush', { arg: '/idx' })
  for (const size of SIZES) {
    const rounds = {}
    const more = size <= 1024 * 1024 ? inIndex(node.url, driver, size) : {}
    for (let round = 0; round < ROUNDS; round++) {
      const order = Object.entries({ ...candidates(node.url, size), ...more })
      if (round % 2 === 1) order.reverse()
      for (const [name, store] of order) {
        const folder = `/d/${folders++}/x/y`
        await call(node.url, 'files/mkdir', { arg: folder, parents: true })
        const started = performance.now()
        for (let i = 0; i < OPS; i++) await store(folder)
        ;(rounds[name] ??= []).push((performance.now() - started) / OPS)
      }
    }
    const ms = Object.fromEntries(
      Object.entries(rounds).map(([name, means]) => [name, +means.sort((a, b) => a - b)[means.length >> 1].toFixed(2)])
    )
    const ratios = Object.fromEntries(Object.entries(ms).map(([name, mean]) => [name, +(mean / ms.floor).toFixed(3)]))
    console.log(`${size / 1024} KB: ms ${JSON.stringify(ms)}; / floor at depth ${JSON.stringify(ratios)}`)
  }
} finally {
  await node.stop()
}
