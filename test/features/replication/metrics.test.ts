// The metrics of `sai-images replicate --watch --metrics-port`: the real built CLI as a service,
// scraped over HTTP, through stores, a copy that fails, a heal and a lost frame (two filesystem
// stores), then a real RADOS Gateway stopped and started again under a real Prometheus that scrapes
// the service and is asked through its HTTP API.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { utimes, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { ROOT } from '../../infra/helpers/consumer.js'
import { startPrometheus } from '../../infra/helpers/prometheus.js'
import { tcpProxy } from '../../infra/helpers/tcp-proxy.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { freePort, waitFor } from '../../infra/setup/services.js'

const CLI = join(ROOT, 'dist/cli.js')
const P = 'sai_image_storage_replication_'
const children: ChildProcess[] = []
afterAll(async () => {
  await Promise.all(children.map(async child => await stopChild(child)))
})

type Samples = Map<string, number>

/** `name{labels}` to its value, as the text format gives them (labels in the order written). */
function parseSamples(text: string): Samples {
  const samples: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

/** The service: `replicate --watch --metrics-port`, its metrics URL once it answers. */
async function startService(
  env: Record<string, string>,
  extra: string[] = []
): Promise<{ child: ChildProcess; url: string; scrape: () => Promise<Samples>; text: () => Promise<string> }> {
  const port = await freePort()
  const child = spawn(process.execPath, [CLI, 'replicate', '--watch', '--metrics-port', String(port), ...extra], {
    env,
    stdio: ['ignore', 'ignore', 'pipe']
  })
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const url = `http://127.0.0.1:${port}/metrics`
  await waitFor(`the metrics of replicate --watch (${stderr})`, async () => (await fetch(url)).ok, 30_000)
  expect(stderr).toContain(`metrics at ${url}`)
  const text = async (): Promise<string> => await (await fetch(url)).text()
  return { child, url, text, scrape: async () => parseSamples(await text()) }
}

async function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  const closed = new Promise<number | null>(resolve =>
    child.once('exit', code => {
      resolve(code)
    })
  )
  child.kill('SIGTERM')
  return await closed
}

async function until(
  what: string,
  scrape: () => Promise<Samples>,
  ready: (s: Samples) => boolean,
  ms = 30_000
): Promise<Samples> {
  let last: Samples = new Map()
  await waitFor(what, async () => ready((last = await scrape())), ms).catch((err: Error) => {
    throw new Error(
      `${err.message}; last scrape: ${JSON.stringify(Object.fromEntries([...last].filter(([k]) => k.startsWith(P))))}`
    )
  })
  return last
}

/**
 * Every label value of our series (a histogram's `le` aside): only the bounded ones (replica names,
 * codes, findings).
 */
function labelValues(text: string): string[] {
  return [...text.matchAll(/^sai_image_storage_\w+\{([^}]*)\}/gm)].flatMap(m =>
    [...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].filter(v => v[1] !== 'le').map(v => v[2]!)
  )
}

/** A filesystem primary and replica in new folders: the library's store of them, and the service's environment. */
async function twoStores() {
  const root = await tempDir('sai-metrics-primary')
  const replicaRoot = await tempDir('sai-metrics-replica')
  const primary = new FilesystemDriver({ root })
  const replica = new FilesystemDriver({ root: replicaRoot })
  const storage: ReplicatedStorage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'fs', storage: replica }],
    background: false
  })
  const env = {
    ...(process.env as Record<string, string>),
    SAI_IMAGE_STORAGE_PATH: root,
    SAI_IMAGE_STORAGE_REPLICAS: 'fs',
    SAI_IMAGE_STORAGE_REPLICA_PATH: replicaRoot,
    SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false'
  }
  return { root, replicaRoot, primary, replica, storage, env }
}

describe('replicate --watch --metrics-port, two filesystem stores', () => {
  it('copies, a frame damaged before its copy (lost, not retried), a heal and a ' +
    'repair move the series; no path in any label', async () => {
    const { root, replicaRoot, primary, replica, storage, env } = await twoStores()
    const a = testJpeg(`metrics a ${Date.now()}`, 30_000)
    const c = testJpeg(`metrics c ${Date.now()}`, 20_000)
    const storedA = await storage.store(a)
    const storedC = await storage.store(c)
    await writeFile(primary.pathOf(storedC.hash), Buffer.alloc(c.length, 7)) // damaged before any copy: lost
    const damagedAt = new Date(Date.now() - 120_000) // a minute and more ago: no writer is still at it
    await utimes(primary.pathOf(storedC.hash), damagedAt, damagedAt)

    const service = await startService(env, ['--reconcile-every', '2s'])
    let s = await until(
      'the copy of a, the loss of c',
      service.scrape,
      s =>
        s.get(`${P}copies_total{replica="fs"}`) === 1 &&
        s.get(`${P}lost_frames`) === 1 &&
        s.get(`${P}last_reconcile_primary_objects`) === 2 &&
        // the report (reconcile.json) is written before the service's reconcile call returns with its duration
        (s.get(`${P}last_reconcile_duration_seconds`) ?? 0) > 0
    )
    expect(s.get(`${P}copied_bytes_total{replica="fs"}`)).toBe(a.length)
    // c is recorded lost by the copier, and the reconcile counts its damaged copy as none: never queued again
    expect(s.get(`${P}pending{replica="fs"}`)).toBe(0)
    expect(s.get(`${P}oldest_pending_age_seconds{replica="fs"}`)).toBe(0)
    expect(s.get(`${P}copy_failures_total{replica="fs",code="ERR_INTEGRITY"}`)).toBeUndefined()
    expect(s.get(`${P}below_wanted_copies`)).toBe(1)
    expect(s.get(`${P}replica_failing{replica="fs"}`)).toBe(0)
    expect(s.get(`${P}heals_total`)).toBe(0)
    expect(s.get(`${P}last_reconcile_duration_seconds`)).toBeGreaterThan(0)
    expect(s.get(`${P}last_reconcile_timestamp_seconds`)! * 1000).toBeGreaterThan(Date.now() - 60_000)
    expect(s.has('process_resident_memory_bytes')).toBe(true) // the process' default metrics
    expect(s.has('nodejs_eventloop_lag_p99_seconds')).toBe(true)

    // a store: copied, counted
    const b = testJpeg(`metrics b ${Date.now()}`, 40_000)
    const storedB = await storage.store(b)
    s = await until('the copy of b', service.scrape, s => s.get(`${P}copies_total{replica="fs"}`) === 2)
    expect(s.get(`${P}copied_bytes_total{replica="fs"}`)).toBe(a.length + b.length)
    await until(
      'a reconcile that finds a and b on the replica',
      service.scrape,
      s => s.get(`${P}last_reconcile_objects{replica="fs",finding="present"}`) === 2
    )
    expect((await replica.exists(storedA.hash)) && (await replica.exists(storedB.hash))).toBe(true)

    // a heal, in another process (this one): counted by the service from the heal log
    await writeFile(primary.pathOf(storedB.hash), Buffer.alloc(b.length, 1))
    expect(Buffer.compare(await storage.fetch(storedB.hash), b)).toBe(0)
    await until('the heal', service.scrape, s => s.get(`${P}heals_total`) === 1)

    // c's only copy is damaged: a repair quarantines it, and the loss is still counted (the quarantine's copy)
    const repaired = spawnSync(process.execPath, [CLI, 'verify', '--repair', '--json'], { env, encoding: 'utf8' })
    expect(JSON.parse(repaired.stdout)).toMatchObject({ quarantined: 1 })
    s = await until(
      'a reconcile after the repair',
      service.scrape,
      s => s.get(`${P}last_reconcile_primary_objects`) === 2 // a and b: c is in the quarantine
    )
    expect(s.get(`${P}lost_frames`)).toBe(1)
    expect(s.get(`${P}pending{replica="fs"}`)).toBe(0)

    const text = await service.text()
    for (const value of labelValues(text))
      expect(['fs', 'ERR_INTEGRITY', 'present', 'missing', 'mismatched', 'evicted', 'extra']).toContain(value)
    for (const secretOrPath of [root, replicaRoot, storedA.sha256, storedC.sha256, '/tmp'])
      expect(text).not.toContain(secretOrPath)
    expect(await stopChild(service.child)).toBe(0) // stopped by SIGTERM, as a service is stopped: exit 0
    await storage.close()
  }, 120_000)

  it('a frame evicted, then gone from its replica: lost_frames says so ' +
    "once the service's reconcile finds it, as status does (exit 13)", async () => {
    const { replica, storage, env } = await twoStores()
    const stored = await storage.store(testJpeg(`metrics evicted ${Date.now()}`, 10_000))
    await storage.drain()
    const old = new Date(Date.now() - 40 * 86_400_000)
    await utimes(stored.path, old, old)
    expect(await storage.evict({ olderThan: 30 * 86_400_000 })).toMatchObject({ evicted: 1 })
    await replica.delete(stored.hash) // the last copy gone (a bucket emptied by hand, a disk lost)
    await storage.close()

    // the service's reconcile at start (daily after) finds it; status counts it from the same scan
    const service = await startService(env)
    await until('the loss the reconcile found', service.scrape, s => s.get(`${P}lost_frames`) === 1)
    expect(spawnSync(process.execPath, [CLI, 'status'], { env }).status).toBe(13)
    expect(await stopChild(service.child)).toBe(0)
  }, 60_000)

  it('a foreign write: the watcher finds it, the copy is made, the ' +
    'latency from the write to the verified copy observed', async () => {
    const root = await tempDir('sai-metrics-primary')
    const replicaRoot = await tempDir('sai-metrics-replica')
    const primary = new FilesystemDriver({ root })
    const replica = new FilesystemDriver({ root: replicaRoot })
    const env = {
      ...(process.env as Record<string, string>),
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: replicaRoot
    }
    // no reconcile: only the watcher can find the frame (a reconcile would queue it too, unobserved)
    const service = await startService(env, ['--no-reconcile', '--watch-every', '0.5s'])
    const before = await service.scrape()
    expect(before.get(`${P}foreign_write_to_copy_seconds_count{replica="fs"}`)).toBe(0)
    const foreign = testJpeg(`metrics foreign ${Date.now()}`, 10_000)
    const hash = createHash('sha256').update(foreign).digest('hex')
    mkdirSync(dirname(primary.pathOf(hash)), { recursive: true })
    await writeFile(primary.pathOf(hash), foreign) // another program writes it (no store, no outbox)
    const s = await until(
      'the foreign write copied',
      service.scrape,
      s => s.get(`${P}foreign_write_to_copy_seconds_count{replica="fs"}`) === 1
    )
    const sum = s.get(`${P}foreign_write_to_copy_seconds_sum{replica="fs"}`)!
    expect(sum).toBeGreaterThan(0)
    expect(sum).toBeLessThan(30)
    expect(await replica.exists(hash)).toBe(true)
    expect(await stopChild(service.child)).toBe(0) // stopped by SIGTERM: a service stopped as asked
    await primary.close()
  }, 60_000)

  it('refuses what it cannot serve: no --watch, a bad address, a port ' +
    'in use; a bare port listens on loopback only', async () => {
    const root = await tempDir()
    const env = {
      ...(process.env as Record<string, string>),
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 'fs',
      SAI_IMAGE_STORAGE_REPLICA_PATH: await tempDir()
    }
    const run = (args: string[]): { status: number | null; stderr: string } =>
      spawnSync(process.execPath, [CLI, 'replicate', ...args], { env, encoding: 'utf8' })
    expect(run(['--metrics-port', '9465'])).toMatchObject({ status: 2, stderr: expect.stringContaining('add --watch') })
    expect(run(['--watch', '--metrics-address', 'localhost'])).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('--metrics-address takes host:port')
    })
    expect(run(['--watch', '--metrics-port', '99999'])).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('--metrics-port takes a TCP port')
    })
    expect(run(['--watch', '--metrics-port', '1', '--metrics-address', '127.0.0.1:2'])).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('not both')
    })
    const busy = createServer()
    await new Promise<void>(resolve => busy.listen(0, '127.0.0.1', resolve))
    const taken = (busy.address() as { port: number }).port
    expect(run(['--watch', '--metrics-address', `127.0.0.1:${taken}`])).toMatchObject({
      status: 6, // the host's state (ERR_CONFIG), not a mistyped command (2)
      stderr: expect.stringContaining('the port is in use')
    })
    busy.close()
    const service = await startService(env)
    const port = new URL(service.url).port
    const listening = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .filter(
        line => line.includes(`:${Number(port).toString(16).toUpperCase().padStart(4, '0')} `) && / 0A /.test(line)
      )
    expect(listening.map(line => line.trim().split(/\s+/)[1])).toEqual([
      `0100007F:${Number(port).toString(16).toUpperCase().padStart(4, '0')}`
    ]) // 127.0.0.1 only
    expect((await fetch(service.url.replace('/metrics', '/'))).status).toBe(404)
    expect((await fetch(service.url, { method: 'POST' })).status).toBe(405)
    expect(await stopChild(service.child)).toBe(0) // stopped by SIGTERM, as a service is stopped: exit 0
  }, 60_000)
})

/**
 * A way to take the S3 endpoint away and give it back: a gateway of our own on the real Ceph, or a
 * TCP proxy in front of it.
 */
async function outage(
  s3: ReturnType<typeof inject<'s3'>>
): Promise<{ endpoint: string; stop: () => Promise<void>; start: () => Promise<void> }> {
  if (s3.conf !== undefined) {
    const { startGateway } = (await import('../../infra/ceph/cluster.mjs' as string)) as {
      startGateway: (
        conf: string
      ) => Promise<{ endpoint: string; stop: () => Promise<void>; start: () => Promise<void> }>
    }
    return await startGateway(s3.conf)
  }
  return await tcpProxy(s3.endpoint)
}

describe('replicate --watch scraped by a real Prometheus, the replica a real RADOS Gateway', () => {
  it('the backlog and the copy counters through stores, the gateway ' +
    'stopped and started again; every dashboard query runs', async () => {
    const s3 = inject('s3')
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
    const bucket = `sai-metrics-${Date.now().toString(36)}`
    const raw = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials, forcePathStyle: true })
    await raw.send(new CreateBucketCommand({ Bucket: bucket }))
    raw.destroy()
    const gateway = await outage(s3)
    const root = await tempDir('sai-metrics-s3')
    const prefix = `m-${Date.now().toString(36)}/`
    const env = {
      ...(process.env as Record<string, string>),
      SAI_IMAGE_STORAGE_PATH: root,
      SAI_IMAGE_STORAGE_REPLICAS: 's3',
      SAI_IMAGE_STORAGE_REPLICATE_IN_BACKGROUND: 'false',
      SAI_S3_ENDPOINT: gateway.endpoint,
      SAI_S3_BUCKET: bucket,
      SAI_S3_PREFIX: prefix,
      SAI_S3_REGION: s3.region,
      SAI_S3_ACCESS_KEY_ID: s3.accessKeyId,
      SAI_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      SAI_S3_TIMEOUT_MS: '2000'
    }
    const replica = new S3Driver({
      endpoint: s3.endpoint,
      region: s3.region,
      bucket,
      prefix,
      credentials,
      forcePathStyle: true
    })
    const storage = createReplicatedStorage({
      primary: new FilesystemDriver({ root }),
      replicas: [{ name: 's3', storage: replica }],
      background: false
    })
    const service = await startService(env)
    const prometheus = await startPrometheus('sai-images-replicate', new URL(service.url).host)
    try {
      const value = async (expr: string): Promise<number | undefined> => {
        const result = await prometheus.query(expr)
        return result.length === 0 ? undefined : Number(result[0]!.value[1])
      }
      const eventually = async (what: string, check: () => Promise<boolean>): Promise<void> => {
        await waitFor(`Prometheus to see ${what}`, check, 60_000)
      }
      const stored = await Promise.all(
        Array.from({ length: 5 }, async (_, i) => await storage.store(testJpeg(`scraped ${i} ${Date.now()}`, 8000)))
      )
      await eventually(
        '5 copies',
        async () =>
          (await value(`${P}copies_total{replica="s3"}`)) === 5 && (await value(`${P}pending{replica="s3"}`)) === 0
      )
      expect(await value(`${P}copied_bytes_total{replica="s3"}`)).toBe(5 * 8000)
      expect(await value(`${P}replica_failing{replica="s3"}`)).toBe(0)

      await gateway.stop()
      for (let i = 0; i < 7; i++) stored.push(await storage.store(testJpeg(`while down ${i} ${Date.now()}`, 8000)))
      await eventually(
        'the outage',
        async () =>
          (await value(`${P}replica_failing{replica="s3"}`)) === 1 &&
          (await value(`${P}pending{replica="s3"}`)) === 7 &&
          ((await value(`${P}copy_failures_total{replica="s3",code="ERR_STORAGE_UNAVAILABLE"}`)) ?? 0) >= 1
      )
      expect(await value(`${P}copies_total{replica="s3"}`)).toBe(5)
      expect(await value(`time() - ${P}replica_failing_since_timestamp_seconds{replica="s3"}`)).toBeGreaterThanOrEqual(
        0
      )
      await eventually(
        'the backlog ageing',
        async () => ((await value(`${P}oldest_pending_age_seconds{replica="s3"}`)) ?? 0) >= 1
      )

      await gateway.start()
      await eventually(
        'the recovery',
        async () =>
          (await value(`${P}copies_total{replica="s3"}`)) === 12 &&
          (await value(`${P}pending{replica="s3"}`)) === 0 &&
          (await value(`${P}replica_failing{replica="s3"}`)) === 0
      )
      expect(await value(`${P}replica_failing_since_timestamp_seconds{replica="s3"}`)).toBeUndefined()
      for (const frame of stored) expect(await replica.exists(frame.hash)).toBe(true)

      // the example's rules load in a real Prometheus, and it takes every query of the dashboard (a query it refuses
      // rejects; test/package/grafana.test.ts checks that each name is one the service exports)
      const rules = (
        (await prometheus.api('/api/v1/rules')) as { groups: Array<{ rules: Array<{ name: string; health: string }> }> }
      ).groups.flatMap(g => g.rules)
      expect(rules.map(r => [r.name, r.health])).toEqual(rules.map(r => [r.name, 'ok']))
      expect(rules.length).toBeGreaterThanOrEqual(3)
      const dashboard = JSON.parse(readFileSync(join(ROOT, 'examples/grafana/sai-images-dashboard.json'), 'utf8')) as {
        panels: Array<{ title: string; targets?: Array<{ expr: string }> }>
      }
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          const expr = target.expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m')
          await expect(prometheus.query(expr), `${panel.title}: ${expr}`).resolves.toBeInstanceOf(Array)
        }
      }
      const scraped = await service.text()
      for (const secret of [s3.secretAccessKey, s3.accessKeyId, root, prefix, bucket].filter(s => s !== ''))
        expect(scraped).not.toContain(secret)
    } finally {
      await prometheus.stop()
      expect(await stopChild(service.child)).toBe(0) // stopped by SIGTERM, as a service is stopped: exit 0
      await storage.close()
      await gateway.stop().catch(() => {})
    }
  }, 240_000)
})
