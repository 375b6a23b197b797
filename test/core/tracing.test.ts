/**
 * The tracing channels on every driver (the filesystem, memory, S3 on the test Ceph RADOS Gateway,
 * IPFS on the test node) and in the features: each operation's message on success and on each
 * error code, the contract that every start ends in one asyncEnd, no context built without a
 * subscriber, and no credential in any message.
 *
 * The IPFS cases store a few objects on the shared test node. ipfs.test.ts counts that node's
 * listing; vitest runs one file at a time on the 2-core machines (maxWorkers = cores - 1), so the
 * two never overlap.
 */
import { createHash } from 'node:crypto'
import { tracingChannel } from 'node:diagnostics_channel'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createServer, request, type IncomingMessage, type Server } from 'node:http'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  hasSubscribers,
  tracingStats,
  TRACING_CHANNELS,
  type TraceContext,
  type TracedOperation
} from '../../src/core/tracing.js'
import type { ImageStorage } from '../../src/core/types.js'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../src/drivers/ipfs/index.js'
import { MemoryDriver } from '../../src/drivers/memory/index.js'
import { S3Driver } from '../../src/drivers/s3/index.js'
import { importTree } from '../../src/features/jobs/index.js'
import { prune } from '../../src/features/retention/prune.js'
import { createVariants } from '../../src/features/variants/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { freePort } from '../infra/setup/services.js'
import { tempDir } from '../infra/helpers/tmp.js'

const EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const
type EventName = (typeof EVENTS)[number]
const OPS = Object.keys(TRACING_CHANNELS) as TracedOperation[]
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const missing = sha256(Buffer.from(`never stored ${Date.now()}`))
const aborted = (): AbortSignal => AbortSignal.abort()

interface Recorded {
  op: TracedOperation
  event: EventName
  context: TraceContext
  at: { ref?: unknown; driver?: unknown; fields: Record<string, unknown> }
}
interface Span {
  op: TracedOperation
  events: EventName[]
  context: TraceContext
  started: Recorded['at']
}

/** Subscribes to every event of every channel until `stop()`. */
function recordAll(): { events: Recorded[]; stop: () => void } {
  const events: Recorded[] = []
  const subscriptions = OPS.map(op => {
    const handlers = Object.fromEntries(
      EVENTS.map(event => [
        event,
        (context: TraceContext) => {
          events.push({ op, event, context, at: { ref: context.ref, driver: context.driver, fields: { ...context } } })
        }
      ])
    )
    tracingChannel(TRACING_CHANNELS[op]).subscribe(handlers as never)
    return () => tracingChannel(TRACING_CHANNELS[op]).unsubscribe(handlers as never)
  })
  return {
    events,
    stop: () => {
      for (const unsubscribe of subscriptions) unsubscribe()
    }
  }
}

/** The events grouped by context, in the order they started. */
function spansOf(events: Recorded[]): Span[] {
  const spans = new Map<TraceContext, Span>()
  for (const e of events) {
    if (!spans.has(e.context)) spans.set(e.context, { op: e.op, events: [], context: e.context, started: e.at })
    const span = spans.get(e.context)!
    expect(span.op).toBe(e.op) // one context, one channel
    span.events.push(e.event)
  }
  return [...spans.values()]
}

/** Every span keeps the contract: start, end, then error (on a failure), asyncStart, asyncEnd, each once. */
function expectContract(span: Span): void {
  const failed = span.events.includes('error')
  expect(span.events, `${span.op} on ${span.context.driver}`).toEqual(
    failed ? ['start', 'end', 'error', 'asyncStart', 'asyncEnd'] : ['start', 'end', 'asyncStart', 'asyncEnd']
  )
  if (failed) {
    expect(span.context.code).toMatch(/^[A-Z][A-Z0-9_]+$/)
    expect(span.context.error).toBeDefined()
    expect(span.context.result).toBeUndefined()
  } else {
    expect(span.context.error).toBeUndefined()
    expect(span.context.code).toBeUndefined()
    expect(span.context.result).toBeTypeOf('object')
  }
  expect(findBytes(span.context), 'no bytes in a context').toEqual([])
}

/** Paths in `value` that hold bytes (a Buffer, a typed array): a trace must carry none. */
function findBytes(value: unknown, path = 'context', seen = new Set<unknown>()): string[] {
  if (value === null || typeof value !== 'object' || seen.has(value)) return []
  seen.add(value)
  if (ArrayBuffer.isView(value)) return [path]
  if (value instanceof Error) return [] // an error is what it is (its message is checked for secrets)
  return Object.entries(value).flatMap(([k, v]) => findBytes(v, `${path}.${k}`, seen))
}

/** Runs `work` with every channel recorded: what it gave or threw, and its spans, each checked. */
async function trace<T>(
  work: () => Promise<T>
): Promise<{ value?: T; error?: any; spans: Span[]; events: Recorded[] }> {
  const recording = recordAll()
  let value: T | undefined
  let error: unknown
  try {
    value = await work()
  } catch (err) {
    error = err
  } finally {
    recording.stop()
  }
  const spans = spansOf(recording.events)
  for (const span of spans) expectContract(span)
  return { value, error, spans, events: recording.events }
}

/** The one span of `op` (nested spans of other channels may sit beside it). */
function only(spans: Span[], op: TracedOperation): Span {
  const found = spans.filter(s => s.op === op)
  expect(
    found.map(s => s.op),
    `spans of ${op}`
  ).toEqual([op])
  return found[0]!
}

/** A failure traced as one span of `op` whose code is the thrown error's. */
async function expectFailure(
  op: TracedOperation,
  driver: string,
  code: string,
  work: () => Promise<unknown>,
  ref?: string
): Promise<Span> {
  const { error, spans } = await trace(work)
  expect(error, `${op} should fail with ${code}`).toBeDefined()
  const span = only(spans, op)
  expect(span.context.code).toBe(code)
  expect(span.context.error).toBe(error)
  expect(span.context.driver).toBe(driver)
  if (ref !== undefined) expect(span.started.ref).toBe(ref)
  expect(
    typeof error.code === 'string'
      ? error.code
      : { AbortError: 'ABORT_ERR', TimeoutError: 'TIMEOUT_ERR' }[error.name as string]
  ).toBe(code)
  return span
}

interface DriverUnderTest {
  driver: string
  /** A store of its own (an S3 prefix, a filesystem root), empty. */
  make: () => Promise<ImageStorage>
  /** Damages a stored object so that a fetch finds other bytes (ERR_INTEGRITY). */
  damage?: (storage: ImageStorage, hash: string) => Promise<ImageStorage>
  /** A store whose every call fails as unavailable (unmounted root, dead endpoint, node down). */
  unavailable?: () => Promise<ImageStorage>
  verify: boolean
}

function channelCases(d: DriverUnderTest): void {
  describe(`the ${d.driver} driver's channels`, () => {
    it('store: the start names the driver and no ref; the result is hash, sha256, size, isDuplicate and mimeType', async () => {
      const storage = await d.make()
      const jpeg = testJpeg(`store ${d.driver} ${Date.now()}`, 4096)
      for (const isDuplicate of [false, true]) {
        const { value, spans } = await trace(async () => await storage.store(jpeg))
        const span = only(spans, 'store')
        expect(span.started).toMatchObject({ driver: d.driver, ref: undefined })
        expect(span.context.result).toEqual({
          hash: value!.hash,
          sha256: sha256(jpeg),
          size: jpeg.length,
          isDuplicate,
          mimeType: 'image/jpeg'
        })
      }
    })

    it('fetch, fetchStream and stat: the start holds the ref; fetchStream ends when the stream is handed over', async () => {
      const storage = await d.make()
      const jpeg = testJpeg(`reads ${d.driver} ${Date.now()}`, 4096)
      const { hash, sha256: digest } = await storage.store(jpeg)
      const fetched = await trace(async () => await storage.fetch(hash))
      expect(only(fetched.spans, 'fetch')).toMatchObject({
        started: { driver: d.driver, ref: hash },
        context: { result: { size: jpeg.length } }
      })

      const recording = recordAll()
      let stream
      try {
        stream = await storage.fetchStream(hash)
        const [span] = spansOf(recording.events).filter(s => s.op === 'fetchStream')
        expect(span!.events).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']) // over before a byte is read
        expect(span!.context.result).toEqual({})
        const before = recording.events.length
        const chunks: Buffer[] = []
        for await (const chunk of stream) chunks.push(chunk)
        expect(Buffer.concat(chunks).equals(jpeg)).toBe(true)
        expect(recording.events.filter(e => e.op === 'fetchStream').length).toBe(4)
        expect(recording.events.slice(before).filter(e => e.op === 'fetchStream')).toEqual([])
      } finally {
        recording.stop()
      }
      for (const span of spansOf(recording.events)) expectContract(span)

      const stat = await trace(async () => await storage.stat(hash))
      const span = only(stat.spans, 'stat')
      expect(span.started).toMatchObject({ driver: d.driver, ref: hash })
      expect(span.context.result).toEqual({ hash, sha256: digest, size: jpeg.length, mimeType: 'image/jpeg' })
    })

    it('delete and deleteIfNotRenewed publish on delete, with { deleted }', async () => {
      const storage = await d.make()
      const { hash } = await storage.store(testJpeg(`delete ${d.driver} ${Date.now()}`))
      for (const deleted of [true, false]) {
        const { spans } = await trace(async () => await storage.delete(hash))
        expect(only(spans, 'delete')).toMatchObject({
          started: { driver: d.driver, ref: hash },
          context: { result: { deleted } }
        })
      }
      const again = await storage.store(testJpeg(`renewed ${d.driver} ${Date.now()}`))
      const { lastStoredAt } = await storage.stat(again.hash)
      const { value, spans } = await trace(
        async () => await storage.deleteIfNotRenewed!(again.hash, lastStoredAt ?? new Date())
      )
      expect(only(spans, 'delete').context.result).toEqual({ deleted: value })
    })

    it('list: nothing until the first step; asyncEnd when it ends or is left, with the count; the start has prefix and after', async () => {
      const storage = await d.make()
      const stored: string[] = []
      for (let i = 0; i < 3; i++)
        stored.push((await storage.store(testJpeg(`list ${d.driver} ${i} ${Date.now()}`))).sha256!)
      let listed = 0
      const whole = await trace(async () => {
        const listing = storage.list()
        expect(hasSubscribers('list')).toBe(true)
        for await (const _ of listing) listed++
      })
      expect(listed).toBeGreaterThanOrEqual(3)
      expect(only(whole.spans, 'list')).toMatchObject({
        started: { driver: d.driver, fields: { prefix: undefined, after: undefined } },
        context: { result: { count: listed } }
      })

      const recording = recordAll()
      try {
        const listing = storage.list({ prefix: stored[0]!.slice(0, 1), after: '0' })
        expect(recording.events).toEqual([]) // made, not started
        for await (const _ of listing) break // break calls return(): the span ends
      } finally {
        recording.stop()
      }
      const left = only(spansOf(recording.events), 'list')
      expectContract(left)
      expect(left).toMatchObject({
        started: { fields: { prefix: stored[0]!.slice(0, 1), after: '0' } },
        context: { result: { count: 1 } }
      })
    })

    if (d.verify) {
      it('verify: the result sums the report up, the start says whether it repairs', async () => {
        const storage = await d.make()
        const jpeg = testJpeg(`verify ${d.driver} ${Date.now()}`)
        await storage.store(jpeg)
        const { value, spans } = await trace(async () => await storage.verify!())
        const span = only(spans, 'verify')
        expect(span.started).toMatchObject({ driver: d.driver, fields: { repair: false } })
        expect(span.context.result).toEqual({
          checked: value!.checked,
          bytes: value!.bytes,
          clean: true,
          restored: 0,
          quarantined: 0,
          removed: 0,
          counts: {}
        })
        expect(value!.checked).toBeGreaterThanOrEqual(1)
      })
    }

    it('each error code a caller can cause: ERR_INVALID_REF, ERR_NOT_FOUND, ERR_INVALID_INPUT, ERR_TOO_LARGE, ABORT_ERR', async () => {
      const storage = await d.make()
      const { hash } = await storage.store(testJpeg(`errors ${d.driver} ${Date.now()}`))
      for (const op of ['fetch', 'fetchStream', 'stat', 'delete'] as const) {
        await expectFailure(
          op,
          d.driver,
          'ERR_INVALID_REF',
          async () => await storage[op]('../not-a-ref'),
          '../not-a-ref'
        )
      }
      for (const op of ['fetch', 'fetchStream', 'stat'] as const) {
        await expectFailure(op, d.driver, 'ERR_NOT_FOUND', async () => await storage[op](missing), missing)
      }
      await expectFailure(
        'store',
        d.driver,
        'ERR_INVALID_INPUT',
        async () => await storage.store(Buffer.from('plain text, not an image'))
      )
      await expectFailure(
        'store',
        d.driver,
        'ERR_TOO_LARGE',
        async () => await storage.store(testJpeg('too large', 8192), { maxBytes: 4096 })
      )
      await expectFailure(
        'store',
        d.driver,
        'ABORT_ERR',
        async () => await storage.store(testJpeg(`aborted ${Date.now()}`), { signal: aborted() })
      )
      await expectFailure(
        'fetch',
        d.driver,
        'ABORT_ERR',
        async () => await storage.fetch(hash, { signal: aborted() }),
        hash
      )
    })

    if (d.damage !== undefined) {
      it('ERR_INTEGRITY: a damaged object', async () => {
        const storage = await d.make()
        const { hash } = await storage.store(testJpeg(`damaged ${d.driver} ${Date.now()}`, 4096))
        const damaged = await d.damage!(storage, hash)
        await expectFailure('fetch', d.driver, 'ERR_INTEGRITY', async () => await damaged.fetch(hash), hash)
      })
    }

    if (d.unavailable !== undefined) {
      it('ERR_STORAGE_UNAVAILABLE: every operation on a store that is not there', async () => {
        const storage = await d.unavailable!()
        await expectFailure(
          'store',
          d.driver,
          'ERR_STORAGE_UNAVAILABLE',
          async () => await storage.store(testJpeg(`unavailable ${Date.now()}`))
        )
        for (const op of ['fetch', 'fetchStream', 'stat', 'delete'] as const) {
          await expectFailure(op, d.driver, 'ERR_STORAGE_UNAVAILABLE', async () => await storage[op](missing), missing)
        }
        await expectFailure('list', d.driver, 'ERR_STORAGE_UNAVAILABLE', async () => {
          for await (const _ of storage.list());
        })
        if (d.verify)
          await expectFailure('verify', d.driver, 'ERR_STORAGE_UNAVAILABLE', async () => await storage.verify!())
      })
    }
  })
}

// ---- the drivers -------------------------------------------------------------------------------

channelCases({
  driver: 'fs',
  make: async () => new FilesystemDriver({ root: join(await tempDir('sai-trace-fs'), 'store') }),
  damage: async (storage, hash) => {
    await writeFile(storage.pathOf(hash), testJpeg('other bytes', 4096))
    return storage
  },
  unavailable: async () =>
    new FilesystemDriver({ root: join(await tempDir('sai-trace-unmounted'), 'array'), createRoot: false }),
  verify: true
})

channelCases({ driver: 'memory', make: async () => new MemoryDriver(), verify: false })

const s3 = inject('s3')
const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
const bucket = `sai-trace-${Date.now().toString(36)}`
const raw = new S3Client({
  endpoint: s3.endpoint,
  region: s3.region,
  credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED'
})
let prefixes = 0
const s3Driver = (extra: Record<string, unknown> = {}): S3Driver =>
  new S3Driver({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket,
    credentials,
    forcePathStyle: true,
    timeoutMs: 10_000,
    prefix: `trace${++prefixes}/`,
    ...extra
  })
beforeAll(async () => {
  await raw.send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => {
  raw.destroy()
})

channelCases({
  driver: 's3',
  make: async () => s3Driver(),
  damage: async (storage, hash) => {
    const driver = storage as S3Driver
    await raw.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: driver.prefix + driver.keyOf(hash),
        Body: testJpeg('other bytes', 4096)
      })
    )
    return storage
  },
  unavailable: async () => s3Driver({ endpoint: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 }),
  verify: true
})

const apiUrl = inject('ipfsApiUrl')
const servers: Server[] = []
afterAll(async () => {
  await Promise.all(
    servers.map(async server => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    })
  )
})

/** A proxy in front of the real node that flips a byte of what `cat` answers (bytes damaged on the way). */
async function damagingProxy(): Promise<string> {
  const target = new URL(apiUrl)
  const server = createServer((req, res) => {
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer: IncomingMessage) => {
        const chunks: Buffer[] = []
        answer.on('data', chunk => chunks.push(chunk))
        answer.on('end', () => {
          const body = Buffer.concat(chunks)
          if (req.url!.startsWith('/api/v0/cat') && body.length > 100) body[body.length - 10] ^= 0xff
          const headers = { ...answer.headers }
          delete headers['content-length']
          delete headers['transfer-encoding']
          res.writeHead(answer.statusCode!, headers).end(body)
        })
      }
    )
    req.pipe(upstream)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

channelCases({
  driver: 'ipfs',
  make: async () => new IpfsDriver({ url: apiUrl }),
  damage: async () => new IpfsDriver({ url: await damagingProxy() }),
  unavailable: async () => new IpfsDriver({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 }),
  verify: false
})

// ---- the features -------------------------------------------------------------------------------

describe("the features' channels", () => {
  it('prune: the start has its limits, the result what it deleted; an unmounted store is ERR_STORAGE_UNAVAILABLE', async () => {
    const storage = new MemoryDriver()
    const jpeg = testJpeg(`prune ${Date.now()}`)
    await storage.store(jpeg)
    const { value, spans } = await trace(
      async () => await prune(storage, { olderThan: 0, minAgeMs: 0, now: new Date(Date.now() + 1000) })
    )
    const span = only(spans, 'prune')
    expect(span.started).toMatchObject({ driver: 'memory', fields: { olderThan: 0, dryRun: false } })
    expect(span.context.result).toEqual({ deleted: 1, bytesFreed: jpeg.length, dryRun: false })
    expect(value!.deleted).toBe(1)
    expect(spans.filter(s => s.op === 'list')).toHaveLength(1) // its listing, nested
    expect(only(spans, 'delete').context.result).toEqual({ deleted: true })
    const unmounted = new FilesystemDriver({ root: join(await tempDir('sai-trace-prune'), 'array'), createRoot: false })
    await expectFailure('prune', 'fs', 'ERR_STORAGE_UNAVAILABLE', async () => await prune(unmounted, { olderThan: 0 }))
  })

  it('variant: the start has the ref and the preset; the result its size, whether cached, width, height, type; errors by code', async () => {
    const root = await tempDir('sai-trace-variants')
    const storage = new FilesystemDriver({ root })
    const variants = createVariants(storage)
    const { hash } = await storage.store(testJpeg(`variant ${Date.now()}`, 4096))
    for (const cached of [false, true]) {
      const { value, spans } = await trace(async () => await variants.get(hash, 'thumb'))
      const span = only(spans, 'variant')
      expect(span.started).toMatchObject({ driver: 'fs', ref: hash, fields: { preset: 'thumb' } })
      expect(span.context.result).toEqual({ size: value!.size, cached, width: 8, height: 8, mimeType: 'image/webp' })
      if (!cached) expect(only(spans, 'fetch').started.ref).toBe(hash) // the source, nested
    }
    await expectFailure('variant', 'fs', 'ERR_NOT_FOUND', async () => await variants.get(hash, 'no-such-preset'), hash)
    await expectFailure('variant', 'fs', 'ERR_NOT_FOUND', async () => await variants.get(missing, 'thumb'), missing)
    const broken = await storage.store(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7)]))
    await expectFailure(
      'variant',
      'fs',
      'ERR_INVALID_INPUT',
      async () => await variants.get(broken.hash, 'thumb'),
      broken.hash
    )
    await variants.close()
  })

  it('job: an import is one span named for the job, with its tally; a folder that is not there is ERR_INVALID_INPUT', async () => {
    const dir = await tempDir('sai-trace-import')
    await mkdir(join(dir, 'frames'))
    for (let i = 0; i < 3; i++) await writeFile(join(dir, 'frames', `${i}.jpg`), testJpeg(`import ${i} ${Date.now()}`))
    const storage = new MemoryDriver()
    const { spans } = await trace(
      async () => await importTree(storage, join(dir, 'frames'), { mapping: join(dir, 'mapping.jsonl'), minAgeMs: 0 })
    )
    const span = only(spans, 'job')
    expect(span.started).toMatchObject({ driver: 'import', fields: { job: 'import' } })
    expect(span.context.result).toEqual({ done: 3, failed: 0, skipped: 0, interrupted: false })
    expect(spans.filter(s => s.op === 'store')).toHaveLength(3)
    await rm(join(dir, 'frames'), { recursive: true })
    const { error, spans: none } = await trace(
      async () => await importTree(storage, join(dir, 'frames'), { mapping: join(dir, 'again.jsonl'), minAgeMs: 0 })
    )
    expect(error.code).toBe('ERR_INVALID_INPUT')
    expect(none).toEqual([]) // refused before the job starts: no span
  })
})

// ---- no subscriber, no context -----------------------------------------------------------------

describe('without a subscriber', () => {
  /** Counts every publish on every channel of ours (all 60: 12 operations, 5 events each). */
  function countPublishes(): { count: () => number; restore: () => void } {
    let published = 0
    const patched = OPS.flatMap(op =>
      EVENTS.map(event => (tracingChannel(TRACING_CHANNELS[op]) as any)[event])
    ) as Array<{ publish: (message: unknown) => void }>
    for (const channel of patched) {
      // counted, then published as the channel would (its prototype changes as subscribers come and go)
      Object.defineProperty(channel, 'publish', {
        configurable: true,
        value(message: unknown) {
          published++
          Object.getPrototypeOf(this).publish.call(this, message)
        }
      })
    }
    return {
      count: () => published,
      restore: () => {
        for (const channel of patched) delete (channel as any).publish
      }
    }
  }

  async function everyOperation(storages: ImageStorage[]): Promise<void> {
    for (const storage of storages) {
      const { hash } = await storage.store(testJpeg(`quiet ${storage.driver} ${Date.now()}`))
      await storage.store(testJpeg(`quiet ${storage.driver} ${Date.now()}`)).catch(() => {})
      await storage.fetch(hash)
      for await (const _ of await storage.fetchStream(hash));
      await storage.stat(hash)
      for await (const _ of storage.list()) break
      await storage.fetch(missing).catch(() => {})
      await storage.verify?.()
      await storage.delete(hash)
    }
  }

  it('no operation of any driver or feature builds a context or publishes anything', async () => {
    const root = await tempDir('sai-quiet')
    const fs = new FilesystemDriver({ root })
    const storages = [fs, new MemoryDriver(), s3Driver(), new IpfsDriver({ url: apiUrl })]
    for (const op of OPS) expect(hasSubscribers(op)).toBe(false)
    const publishes = countPublishes()
    const before = tracingStats.contexts
    try {
      await everyOperation(storages)
      const variants = createVariants(fs)
      await variants.get((await fs.store(testJpeg(`quiet variant ${Date.now()}`))).hash, 'thumb')
      await prune(new MemoryDriver(), { olderThan: 0 })
      await mkdir(join(root, 'import'))
      await writeFile(join(root, 'import', 'a.jpg'), testJpeg(`quiet import ${Date.now()}`))
      await importTree(fs, join(root, 'import'), { mapping: join(root, 'mapping.jsonl'), minAgeMs: 0 })
      expect(tracingStats.contexts - before).toBe(0)
      expect(publishes.count()).toBe(0)

      // the counter counts: with a subscriber to store alone, one context per store and none else
      const seen: string[] = []
      const onlyStore = Object.fromEntries(
        EVENTS.map(event => [
          event,
          () => {
            seen.push(event)
          }
        ])
      )
      tracingChannel(TRACING_CHANNELS.store).subscribe(onlyStore as never)
      try {
        await everyOperation([new MemoryDriver()])
        expect(tracingStats.contexts - before).toBe(2) // two stores
        expect(publishes.count()).toBe(8) // 4 events each
        expect(seen).toEqual(['start', 'end', 'asyncStart', 'asyncEnd', 'start', 'end', 'asyncStart', 'asyncEnd'])
      } finally {
        tracingChannel(TRACING_CHANNELS.store).unsubscribe(onlyStore as never)
      }
      // and once it is gone, none again
      await everyOperation([new MemoryDriver()])
      expect(tracingStats.contexts - before).toBe(2)
      expect(publishes.count()).toBe(8)
    } finally {
      publishes.restore()
    }
  })
})

// ---- no secret in any message --------------------------------------------------------------------

/**
 * Every string reachable from `value`: own properties enumerable or not, errors' messages, stacks and causes, bytes as
 * text.
 */
function strings(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') return [value]
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean' || typeof value === 'symbol')
    return [String(value)]
  if (value === null || typeof value !== 'object' || seen.has(value)) return []
  seen.add(value)
  if (ArrayBuffer.isView(value))
    return [Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1')]
  const found: string[] = []
  if (value instanceof Map) for (const [k, v] of value) found.push(...strings(k, seen), ...strings(v, seen))
  if (value instanceof Set) for (const v of value) found.push(...strings(v, seen))
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!
    found.push(String(key))
    if ('value' in descriptor) found.push(...strings(descriptor.value, seen))
  }
  return found
}

/** Subscribes to every event; each context is taken apart as it is published, and once more at the end. */
function captureEverything(): { texts: string[]; contexts: Set<TraceContext>; stop: () => void } {
  const texts: string[] = []
  const recording = recordAll()
  return {
    texts,
    contexts: new Set(),
    stop() {
      recording.stop()
      for (const e of recording.events) {
        texts.push(
          ...strings(e.at.fields),
          ...strings(e.context),
          inspect(e.context, { depth: Infinity, showHidden: true })
        )
        try {
          texts.push(JSON.stringify(e.context))
        } catch {}
        this.contexts.add(e.context)
      }
    }
  }
}

async function tryEverything(storage: ImageStorage, ref: string): Promise<void> {
  await storage.store(testJpeg(`secret ${Date.now()} ${Math.random()}`)).catch(() => {})
  for (const op of ['fetch', 'fetchStream', 'stat', 'delete'] as const) await storage[op](ref).catch(() => {})
  await storage.deleteIfNotRenewed?.(ref, new Date()).catch(() => {})
  await (async () => {
    for await (const _ of storage.list());
  })().catch(() => {})
  await storage.verify?.().catch(() => {})
}

describe('no credential in any message', () => {
  it('S3: right keys and wrong ones, a session token, a dead endpoint: not in any context, error, message or cause', async () => {
    const wrongSecret = 'wrong-secret-Kp2WqZ7vNx4'
    const sessionToken = 'session-token-Hq9TrB3mYe1'
    const capture = captureEverything()
    const failures: unknown[] = []
    try {
      const right = s3Driver()
      const { hash } = await right.store(testJpeg(`right keys ${Date.now()}`))
      await tryEverything(right, hash)
      for (const storage of [
        s3Driver({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: wrongSecret } }),
        s3Driver({ credentials: { ...credentials, sessionToken } }),
        s3Driver({
          endpoint: `http://127.0.0.1:${await freePort()}`,
          credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: wrongSecret, sessionToken },
          timeoutMs: 2000
        })
      ]) {
        failures.push(await storage.fetch(hash).catch(err => err))
        await tryEverything(storage, hash)
      }
    } finally {
      capture.stop()
    }
    const failed = [...capture.contexts].filter(c => c.error !== undefined)
    expect(failed.length).toBeGreaterThanOrEqual(20)
    expect(failed.map(c => c.code)).toContain('ERR_STORAGE_UNAVAILABLE')
    expect(failures.map(err => (err as { message: string }).message).join('\n')).toMatch(/access denied/)
    const text = capture.texts.join('\n')
    expect(text).toContain('ERR_STORAGE_UNAVAILABLE') // the capture holds the errors
    for (const secret of [s3.secretAccessKey, wrongSecret, sessionToken]) expect(text).not.toContain(secret)
  })

  it('IPFS: a Bearer token, user:password in the URL; a node that refuses them, a node that is down', async () => {
    const token = 'bearer-secret-Vb7LqM2sXc'
    const password = 'url-pass-Jr5Nw8Tk'
    // in front of the real node: refuses a request without the token, echoing the header it got
    // (as a careless proxy's error page does); lets the right token through
    const target = new URL(apiUrl)
    const guard = createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end(`401 unauthorized: ${req.headers.authorization ?? ''}`)
        return
      }
      req.pipe(
        request(
          { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
          answer => {
            res.writeHead(answer.statusCode!, answer.headers)
            answer.pipe(res)
          }
        )
      )
    })
    await new Promise<void>(resolve => guard.listen(0, '127.0.0.1', resolve))
    servers.push(guard)
    const guarded = `http://127.0.0.1:${(guard.address() as { port: number }).port}`
    const basic = Buffer.from(`admin:${password}`).toString('base64')
    const capture = captureEverything()
    try {
      const right = new IpfsDriver({ url: guarded, auth: `Bearer ${token}` })
      const { hash } = await right.store(testJpeg(`ipfs secret ${Date.now()}`))
      await tryEverything(right, hash)
      for (const storage of [
        new IpfsDriver({ url: guarded.replace('http://', `http://admin:${password}@`) }),
        new IpfsDriver({ url: guarded, auth: `admin:${password}` }),
        new IpfsDriver({ url: guarded, auth: 'Bearer not-the-token-Qz1' }),
        new IpfsDriver({ url: `http://admin:${password}@127.0.0.1:${await freePort()}`, timeoutMs: 2000 })
      ])
        await tryEverything(storage, hash)
    } finally {
      capture.stop()
    }
    const failed = [...capture.contexts].filter(c => c.error !== undefined)
    expect(failed.length).toBeGreaterThanOrEqual(20)
    expect(failed.map(c => c.code)).toContain('ERR_STORAGE_UNAVAILABLE')
    const text = capture.texts.join('\n')
    expect(text).toContain('401') // the node's refusal is in the errors...
    // ...its echo of the credentials is not
    for (const secret of [token, password, basic, 'not-the-token-Qz1']) expect(text).not.toContain(secret)
  })
})
