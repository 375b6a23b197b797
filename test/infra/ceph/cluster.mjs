// A throwaway one-node Ceph 16 (Debian's packages) with a RADOS Gateway, for the S3 driver's tests
// (test/setup/ceph.ts) and benchmarks (bench/run.mjs): one mon, one memstore OSD, auth none, free
// loopback ports, everything in a temp dir. Plain JavaScript so that both can load it.
import { execFile, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { watchdog } from '../watchdog.mjs'

const run = promisify(execFile)
// TCP_NODELAY on the gateway's sockets, as docs/drivers/s3.md advises operators: with Ceph's default
// (Nagle on), a GET's last partial segment can wait for the client's delayed ACK, 40 ms, for some
// object sizes and not others (bench/RESULTS.md, 2026-12-05)
const FRONTEND_OPTIONS = 'tcp_nodelay=1'
const RGW_POOLS = [
  '.rgw.root',
  'default.rgw.log',
  'default.rgw.control',
  'default.rgw.meta',
  'default.rgw.buckets.index',
  'default.rgw.buckets.data',
  'default.rgw.buckets.non-ec'
]

/**
 * Starts the cluster: { connection: { endpoint, region, accessKeyId, secretAccessKey }, stop }. The
 * OSD keeps objects in RAM, about twice their bytes, up to `memstoreBytes` (then it is full). Throws
 * with the daemons' last log lines if it does not come up.
 */
export async function startCeph({ memstoreBytes = 2 * 2 ** 30 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sai-ceph-'))
  const [monPort, rgwPort] = [await freePort(), await freePort()]
  const fsid = randomUUID()
  const conf = join(dir, 'ceph.conf')
  // every daemon of this cluster, second gateways too, names its conf on its command line (the pattern is
  // put together in the shell: written out whole, the watchdog's own command line would match it)
  const cancelWatchdog = watchdog(`c='-c ${dir}'; pkill -KILL -f -- "$c/ceph.conf "; rm -rf ${dir}`)
  for (const sub of ['run', 'mon', 'osd']) mkdirSync(join(dir, sub))
  writeFileSync(
    conf,
    `[global]
fsid = ${fsid}
mon host = 127.0.0.1:${monPort}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
mon warn on pool no redundancy = false
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/$name.log
ms bind ipv6 = false
[mon]
mon data = ${dir}/mon
paxos propose interval = 0.1
paxos min wait = 0.01
[osd]
osd data = ${dir}/osd
osd objectstore = memstore
memstore device bytes = ${memstoreBytes}
[client]
ms mon client mode = crc secure
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} ${FRONTEND_OPTIONS}
rgw data = ${dir}/rgw
`
  )
  const daemons = []
  const daemon = (name, args) => {
    const child = spawn(name, ['-c', conf, '-f', ...args], { stdio: 'ignore' })
    child.on('error', () => {})
    daemons.push(child)
  }
  const ceph = async (...args) =>
    (await run('ceph', ['-c', conf, '--connect-timeout', '15', ...args], { timeout: 30_000 })).stdout
  // radosgw first, then the OSD, then the mon
  const stop = async () => {
    for (const child of daemons.reverse()) await terminate(child)
    cancelWatchdog()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await run('monmaptool', ['--create', '--add', 'a', `127.0.0.1:${monPort}`, '--fsid', fsid, join(dir, 'monmap')])
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')])
    daemon('ceph-mon', ['-i', 'a'])
    await ceph('osd', 'create')
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs'])
    daemon('ceph-osd', ['-i', '0'])
    await waitFor('the Ceph OSD', async () => /1 up/.test(await ceph('osd', 'stat')), 30_000)
    // the gateway's pools made up front, small: on its own it makes them one by one with many PGs
    for (const pool of RGW_POOLS) {
      await ceph('osd', 'pool', 'create', pool, '8', '8')
      await ceph('osd', 'pool', 'application', 'enable', pool, 'rgw')
    }
    daemon('radosgw', ['-n', 'client.rgw'])
    const endpoint = `http://127.0.0.1:${rgwPort}`
    await waitFor('the Ceph RADOS Gateway', async () => (await fetch(endpoint)).status > 0, 60_000)
    const connection = {
      conf,
      endpoint,
      region: 'us-east-1',
      accessKeyId: `SAI${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(24).toString('base64url')
    }
    await run(
      'radosgw-admin',
      [
        '-c',
        conf,
        '-n',
        'client.rgw',
        'user',
        'create',
        '--uid=sai',
        '--display-name=sai tests',
        `--access-key=${connection.accessKeyId}`,
        `--secret-key=${connection.secretAccessKey}`
      ],
      { timeout: 30_000 }
    )
    return { connection, stop }
  } catch (err) {
    const logs = ['mon.a', 'osd.0', 'client.rgw']
      .map(name => join(dir, `${name}.log`))
      .filter(existsSync)
      .map(log => `--- ${log}\n${readFileSync(log, 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n')
    await stop()
    throw new Error(`Ceph did not start: ${err.message}\n${logs}`)
  }
}

/** SIGKILL (the cluster is thrown away: nothing to save); resolves once it has exited, no zombie left. */
async function terminate(child) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

async function freePort() {
  return await new Promise((resolve, reject) => {
    const server = createServer().once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function waitFor(what, ready, ms) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    try {
      if (await ready()) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not start within ${ms} ms`)
}

/**
 * A second RADOS Gateway on the same cluster (the same buckets and users), on a port of its own:
 * a test can stop and start it without touching the gateway every other test uses. `nagle: true`
 * leaves out tcp_nodelay (Ceph's default), for the bench's row of a gateway configured so.
 * Resolves { endpoint, stop, start } once it answers.
 */
export async function startGateway(conf, { nagle = false } = {}) {
  const port = await freePort()
  const name = `gw${port}`
  const dir = join(conf, '..')
  let child
  const start = async () => {
    child = spawn(
      'radosgw',
      [
        '-c',
        conf,
        '-f',
        '-n',
        'client.rgw',
        `--rgw-frontends=beast endpoint=127.0.0.1:${port}${nagle ? '' : ` ${FRONTEND_OPTIONS}`}`,
        `--admin-socket=${dir}/run/${name}.asok`,
        `--log-file=${dir}/${name}.log`,
        `--pid-file=${dir}/run/${name}.pid`
      ],
      { stdio: 'ignore' }
    )
    child.on('error', () => {})
    await waitFor('a second RADOS Gateway', async () => (await fetch(`http://127.0.0.1:${port}`)).status > 0, 60_000)
  }
  await start()
  return { endpoint: `http://127.0.0.1:${port}`, stop: async () => await terminate(child), start }
}
