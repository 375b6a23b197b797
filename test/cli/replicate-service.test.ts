// `sai-images replicate --watch` as systemd runs it (examples/systemd): a service that cannot go on must end, with its
// code (Restart=on-failure starts it again, and a monitor sees it down); one that can go on must not end for a replica
// that is down at its reconcile. Both once left a process up that copied nothing, its scrape and watch.json healthy.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { dirname } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { env, fresh, s3, sha256, useBucket } from '../drivers/s3/helpers.js'
import { tcpProxy } from '../infra/helpers/tcp-proxy.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { freePort, waitFor } from '../infra/setup/services.js'
import { answer, CLI, cli } from './run.js'

const services: ChildProcess[] = []
afterAll(() => {
  for (const child of services) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

/** `replicate --watch ...extra` in the background: its exit code (or null while it runs) and its stderr so far. */
function service(env: Record<string, string>, extra: string[]) {
  const child = spawn(process.execPath, [CLI, 'replicate', '--watch', ...extra], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  services.push(child)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  return { child, exited, stderr: () => stderr }
}

/** The exit code within `ms`, or 'still running'. */
async function exitWithin(run: ReturnType<typeof service>, ms: number): Promise<number | null | 'still running'> {
  return await Promise.race([
    run.exited,
    new Promise<'still running'>(resolve => setTimeout(resolve, ms, 'still running'))
  ])
}

describe('replicate --watch, a service that cannot go on', () => {
  it('refused (the replica is another primary’s): exits 6, the metrics server ' +
    'closed and watch.json stopped; a usage error with --metrics-port exits 2', async () => {
    const replica = await tempDir('sai-service-replica')
    const env = (root: string): Record<string, string> => ({
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replica
    })
    const owner = await tempDir('sai-service-owner')
    expect(cli(['replicate'], { env: env(owner) }).code).toBe(0) // marks the replica as its own
    const other = env(await tempDir('sai-service-other'))

    const port = await freePort()
    const refused = service(other, ['--metrics-port', String(port)])
    expect(await exitWithin(refused, 20_000)).toBe(6)
    expect(refused.stderr()).toContain('belongs to another primary')
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow() // no healthy scrape of a dead service
    expect(JSON.parse(readFileSync(`${other.SAI_IMAGE_STORAGE_PATH}/.replication/watch.json`, 'utf8'))).toHaveProperty(
      'stoppedAt'
    )
    expect(cli(['replicate', '--health'], { env: other }).code).toBe(1)

    const usage = service(env(owner), ['--watch-folders', 'many', '--metrics-port', String(await freePort())])
    expect(await exitWithin(usage, 20_000)).toBe(2)
  }, 60_000)
})

describe('status, while no service runs', () => {
  it('frames another program wrote, that nobody queued for longer than ' +
    '--max-backlog-age: exit 10, naming the oldest; 0 once they are copied', async () => {
    const root = await tempDir('sai-service-unqueued')
    const env = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir('sai-service-unqueued-replica')
    }
    expect(cli(['replicate'], { env }).code).toBe(0) // the last reconcile: the frames below come after it
    const primary = new FilesystemDriver({ root })
    const written = new Date(Math.floor(Date.now() / 1000 - 7200) * 1000) // whole seconds: mtimeMs is a float
    for (const i of [1, 2]) {
      const frame = testJpeg(`unqueued ${i} ${Date.now()}`, 5000)
      const path = primary.pathOf(sha256(frame))
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, frame) // storage.py's way: no outbox record
      if (i === 1) utimesSync(path, written, written) // two hours ago (a folder's ctime still says now)
    }
    const run = cli(['status'], { env })
    expect(run.code).toBe(10)
    expect(run.stdout).toContain(
      `ALERT (exit 10): 2 frames from other writers not queued for longer than --max-backlog-age (the oldest written ${written.toISOString()})`
    )
    expect(answer(cli(['status', '--json'], { env })).unseen).toMatchObject({
      frames: 2,
      oldestAt: written.toISOString()
    })
    expect(cli(['status', '--max-backlog-age', '3h'], { env }).code).toBe(0)
    expect(cli(['replicate'], { env }).code).toBe(0) // its reconcile queues and copies them
    expect(cli(['status'], { env }).code).toBe(0)
  }, 60_000)
})

describe('a lost primary restored (docs/replication.md#restoring-a-lost-primary)', () => {
  it('the frames verify --repair --force brought back are not copied ' +
    'back to the replica they came from, nor counted as other writers’', async () => {
    const replica = await tempDir('sai-restore-replica')
    const env = (root: string) => ({
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replica
    })
    const old = env(await tempDir('sai-restore-old'))
    const files = await tempDir('sai-restore-files')
    for (const i of [1, 2, 3]) writeFileSync(`${files}/${i}.jpg`, testJpeg(`restore ${i} ${Date.now()}`, 6000))
    expect(cli(['store', `${files}/1.jpg`, `${files}/2.jpg`, `${files}/3.jpg`], { env: old }).code).toBe(0)
    const oldId = JSON.parse(readFileSync(`${replica}/.marks/owner.json`, 'utf8')).id as string

    const rebuilt = env(await tempDir('sai-restore-new')) // the disk died: an empty root, a new host id
    expect(cli(['take-over', '--from', oldId], { env: rebuilt }).code).toBe(0)
    expect(answer(cli(['verify', '--repair', '--force', '--json'], { env: rebuilt }))).toMatchObject({
      copies: { madeWhole: 3 }
    })
    expect(answer(cli(['status', '--json'], { env: rebuilt })).unseen).toMatchObject({ frames: 0 })
    expect(answer(cli(['replicate', '--json'], { env: rebuilt }))).toMatchObject({ copied: 0, pending: 0 })
  }, 60_000)
})

describe('replicate --watch, stopped by systemd', () => {
  it('exits 0 on a SIGTERM that comes during a reconcile (it once exited 130, interrupted)', async () => {
    // 20,000 tiny objects on both sides: a reconcile takes about a second, as a large store's does
    const [root, copy] = [await tempDir('sai-service-term'), await tempDir('sai-service-term-copy')]
    for (const dir of [root, copy])
      for (let i = 0; i < 20_000; i++) {
        const bytes = Buffer.from(`term ${i}`)
        const path = new FilesystemDriver({ root: dir }).pathOf(sha256(bytes))
        mkdirSync(dirname(path), { recursive: true })
        writeFileSync(path, bytes)
      }
    const env = { SAI_IMAGE_STORAGE_PATH: root, SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: copy }
    const run = service(env, ['--reconcile-every', '1s'])
    await waitFor('the first reconcile', async () => /reconcile: 20000 on the primary/.test(run.stderr()), 60_000)
    const first = Date.now()
    // the next round sleeps 1 s, drains, then reconciles again for about a second: stopped within it
    await new Promise(resolve => setTimeout(resolve, 1400))
    run.child.kill('SIGTERM')
    expect(await exitWithin(run, 20_000)).toBe(0)
    expect(run.stderr().match(/reconcile: 20000/g)).toHaveLength(1) // the second was under way, not done
    expect(Date.now() - first).toBeLessThan(15_000)
  }, 120_000)
})

describe('replicate --watch, a replica that stays down', () => {
  it('is tried with backoff (1 s, 2 s, 4 s …), not at every round of the service', async () => {
    const root = await tempDir('sai-service-backoff')
    const down = {
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 's3',
      SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false',
      SAI_S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`, // nothing listens: refused at once
      SAI_S3_BUCKET: 'frames',
      SAI_S3_ACCESS_KEY_ID: 'id',
      SAI_S3_SECRET_ACCESS_KEY: 'secret'
    }
    writeFileSync(`${root}.jpg`, testJpeg(`backoff ${Date.now()}`, 3000))
    expect(cli(['store', `${root}.jpg`], { env: down }).code).toBe(0) // queued: the copy is the service's
    const run = service(down, ['--no-reconcile', '--verbose'])
    await new Promise(resolve => setTimeout(resolve, 7000))
    run.child.kill('SIGTERM')
    expect(await exitWithin(run, 20_000)).toBe(0)
    const tries = run.stderr().match(/replicate s3 \w+ .* failed: ERR_STORAGE_UNAVAILABLE/g) ?? []
    expect(tries.length).toBeGreaterThanOrEqual(2)
    expect(tries.length).toBeLessThanOrEqual(4) // at 0, 1, 3 and 7 s; every round (1 s) made it 7 or 8
  }, 60_000)
})

describe('replicate --watch, the RADOS Gateway down at its start', () => {
  useBucket()
  it('goes on: the failed reconcile is tried again, the frames another ' +
    'program wrote are copied once the gateway is back; SIGTERM exits 0', async () => {
    const gateway = await tcpProxy(s3.endpoint)
    await gateway.stop()
    const root = await tempDir('sai-service-primary')
    const replica = fresh()
    const run = service(
      {
        ...(env as Record<string, string>),
        SAI_IMAGE_STORAGE_PATH: root,
        SAI_IMAGE_STORAGE_REPLICAS: 's3',
        SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false',
        SAI_S3_ENDPOINT: gateway.endpoint,
        SAI_S3_PREFIX: replica.prefix,
        SAI_S3_TIMEOUT_MS: '2000'
      },
      ['--reconcile-every', '2s', '--watch-every', '1s']
    )
    await waitFor(`the reconcile to fail (${run.stderr()})`, () => run.stderr().includes('reconcile failed'), 20_000)
    expect(run.stderr()).toContain('ERR_STORAGE_UNAVAILABLE')
    expect(run.child.exitCode).toBe(null)
    expect(run.stderr()).not.toContain(s3.secretAccessKey)

    // storage.py's way: a frame written into the layout, no outbox record
    const frame = testJpeg(`service foreign ${Date.now()}`, 9000)
    const hash = sha256(frame)
    const path = new FilesystemDriver({ root }).pathOf(hash)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, frame)
    await gateway.start()
    try {
      await waitFor(`the frame on the gateway (${run.stderr()})`, async () => await replica.exists(hash), 30_000)
      expect(Buffer.compare(await replica.fetch(hash), frame)).toBe(0)
      await waitFor(`a reconcile that ends (${run.stderr()})`, () =>
        run.stderr().includes('reconcile: 1 on the primary')
      )
    } finally {
      await gateway.stop()
      await replica.close()
    }
    run.child.kill('SIGTERM')
    expect(await exitWithin(run, 20_000)).toBe(0)
  }, 90_000)
})

describe('replicate, an S3 endpoint that accepts and never answers (a wrong port, a hung gateway)', () => {
  /** A listener that takes every connection and says nothing; `connections` counts them. */
  async function silentEndpoint() {
    const sockets: Socket[] = []
    const server = createServer(socket => {
      socket.on('error', () => {})
      sockets.push(socket)
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const close = async (): Promise<void> => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sockets, close }
  }
  const silentEnv = async (endpoint: string) => ({
    SAI_IMAGE_STORAGE_PATH: await tempDir('sai-service-silent'),
    SAI_IMAGE_STORAGE_REPLICAS: 's3',
    SAI_S3_ENDPOINT: endpoint,
    SAI_S3_BUCKET: 'frames',
    SAI_S3_ACCESS_KEY_ID: 'id',
    SAI_S3_SECRET_ACCESS_KEY: 'secret'
  })

  // it once waited out the request's timeout (SAI_S3_TIMEOUT_MS, 30 s) at start: the owner mark's read took no signal
  it.each([
    ['SIGTERM', 0],
    ['SIGINT', 130]
  ] as const)(
    '--watch stops on %s while its first request waits (exit %i), long before the timeout',
    async (signal, code) => {
      const endpoint = await silentEndpoint()
      try {
        const run = service(await silentEnv(endpoint.url), [])
        await waitFor('a request to the silent endpoint', () => endpoint.sockets.length > 0, 20_000)
        await new Promise(resolve => setTimeout(resolve, 300)) // its handlers are installed by now
        const sent = Date.now()
        run.child.kill(signal)
        expect(await exitWithin(run, 5000)).toBe(code)
        expect(Date.now() - sent).toBeLessThan(5000)
      } finally {
        await endpoint.close()
      }
    },
    60_000
  )

  it('--watch says the typed timeout, naming SAI_S3_TIMEOUT_MS, within a few timeouts, and goes on', async () => {
    const endpoint = await silentEndpoint()
    try {
      const env = { ...(await silentEnv(endpoint.url)), SAI_S3_TIMEOUT_MS: '500' }
      const started = Date.now()
      const run = service(env, []) // --watch: the failed reconcile is said, and the service goes on
      await waitFor(`the reconcile to fail (${run.stderr()})`, () => run.stderr().includes('reconcile failed'), 20_000)
      expect(run.stderr()).toMatch(/ERR_STORAGE_UNAVAILABLE: .*no answer within 500 ms \(SAI_S3_TIMEOUT_MS\)/)
      expect(Date.now() - started).toBeLessThan(10_000)
      run.child.kill('SIGTERM')
      expect(await exitWithin(run, 5000)).toBe(0)
    } finally {
      await endpoint.close()
    }
  }, 60_000)

  it('verify asks the owner mark once before its typed timeout (it once waited a shared read out, then its own)', async () => {
    const endpoint = await silentEndpoint()
    try {
      const env = { ...(await silentEnv(endpoint.url)), SAI_S3_TIMEOUT_MS: '500' }
      const child = spawn(process.execPath, [CLI, 'verify'], { env: { ...process.env, ...env } })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      const code = await new Promise(resolve => child.once('exit', resolve))
      expect(code).toBe(5)
      expect(stderr).toContain('no answer within 500 ms (SAI_S3_TIMEOUT_MS)')
      expect(endpoint.sockets).toHaveLength(1)
    } finally {
      await endpoint.close()
    }
  }, 60_000)
})
