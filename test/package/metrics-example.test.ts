/**
 * examples/metrics: the node:http app that counts the tracing channels with prom-client. Started
 * as a child process on the filesystem driver, sent real requests, scraped: the numbers are the
 * requests' (latency counts by operation and driver, stores, new bytes, duplicates, errors by code).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { testJpeg } from '../../src/testing/index.js'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill()
})

async function startExample(root: string): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, 'examples/metrics/server.mjs')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', SAI_IMAGE_STORAGE_DRIVER: 'fs', SAI_IMAGE_STORAGE_PATH: root },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  children.push(child)
  return await new Promise((resolve, reject) => {
    let output = ''
    child.stdout!.on('data', chunk => {
      output += chunk
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
      if (url !== undefined) resolve(url)
    })
    child.on('exit', code => reject(new Error(`the example exited (${code}): ${output}`)))
  })
}

type Sample = { name: string; labels: Record<string, string>; value: number }

/** Prometheus' text format, sample lines only. */
function parse(text: string): Sample[] {
  return text
    .split('\n')
    .filter(line => line !== '' && !line.startsWith('#'))
    .map(line => {
      const [, name, labels = '', value] = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)!
      return {
        name: name!,
        labels: Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map(m => [m[1], m[2]])),
        value: Number(value)
      }
    })
}

/**
 * The value of the one sample of `name` whose labels include `labels` (0 when there is none, as Prometheus reads an
 * absent counter).
 */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  expect(found.length, `${name} ${JSON.stringify(labels)}`).toBeLessThanOrEqual(1)
  return found[0]?.value ?? 0
}

describe('examples/metrics', () => {
  it('serves /metrics with store and fetch latency by driver, stores, new bytes, duplicates and errors by code', async () => {
    const url = await startExample(await tempDir('sai-metrics'))
    const put = async (bytes: Buffer): Promise<{ status: number; body: any }> => {
      const res = await fetch(`${url}/images`, { method: 'PUT', body: new Uint8Array(bytes) })
      return { status: res.status, body: await res.json() }
    }
    const frames = [0, 1, 2].map(i => testJpeg(`metrics ${i} ${Date.now()}`, 20_000 + i * 1000))
    const stored = []
    for (const frame of frames) stored.push(await put(frame))
    expect(stored.map(s => [s.status, s.body.isDuplicate])).toEqual([
      [201, false],
      [201, false],
      [201, false]
    ])
    expect((await put(frames[0]!)).body.isDuplicate).toBe(true)
    expect(await put(Buffer.from('not an image'))).toMatchObject({ status: 400, body: { error: 'ERR_INVALID_INPUT' } })
    for (const { body } of stored.slice(0, 2)) expect((await fetch(`${url}/images/${body.hash}`)).status).toBe(200)
    expect((await fetch(`${url}/images/${'0'.repeat(64)}`)).status).toBe(404)
    expect((await fetch(`${url}/images/not-a-hash`)).status).toBe(400)

    const scrape = async (): Promise<Sample[]> => {
      const res = await fetch(`${url}/metrics`)
      expect(res.headers.get('content-type')).toContain('text/plain')
      return parse(await res.text())
    }
    const samples = await scrape()
    const store = { operation: 'store', driver: 'fs' }
    const fetched = { operation: 'fetch', driver: 'fs' }
    expect(sampleValue(samples, 'sai_image_storage_operation_duration_seconds_count', store)).toBe(5) // four stores and the refused one
    expect(sampleValue(samples, 'sai_image_storage_operation_duration_seconds_count', fetched)).toBe(4)
    for (const labels of [store, fetched]) {
      const sum = sampleValue(samples, 'sai_image_storage_operation_duration_seconds_sum', labels)
      expect(sum).toBeGreaterThan(0)
      expect(sum).toBeLessThan(5)
      expect(
        sampleValue(samples, 'sai_image_storage_operation_duration_seconds_bucket', { ...labels, le: '+Inf' })
      ).toBe(sampleValue(samples, 'sai_image_storage_operation_duration_seconds_count', labels))
    }
    expect(sampleValue(samples, 'sai_image_storage_stores_total', { driver: 'fs', duplicate: 'false' })).toBe(3)
    expect(sampleValue(samples, 'sai_image_storage_stores_total', { driver: 'fs', duplicate: 'true' })).toBe(1)
    expect(sampleValue(samples, 'sai_image_storage_stored_bytes_total', { driver: 'fs' })).toBe(
      frames.reduce((sum, f) => sum + f.length, 0)
    )
    expect(
      sampleValue(samples, 'sai_image_storage_errors_total', {
        operation: 'store',
        driver: 'fs',
        code: 'ERR_INVALID_INPUT'
      })
    ).toBe(1)
    expect(
      sampleValue(samples, 'sai_image_storage_errors_total', {
        operation: 'fetch',
        driver: 'fs',
        code: 'ERR_NOT_FOUND'
      })
    ).toBe(1)
    expect(
      sampleValue(samples, 'sai_image_storage_errors_total', {
        operation: 'fetch',
        driver: 'fs',
        code: 'ERR_INVALID_REF'
      })
    ).toBe(1)
    expect(
      samples.filter(s => s.name.startsWith('sai_image_storage_errors_total')).reduce((sum, s) => sum + s.value, 0)
    ).toBe(3)
    // the filesystem driver has no replication status: no backlog gauges
    expect(samples.filter(s => s.name.includes('replication'))).toEqual([])
    expect(samples.some(s => s.name === 'process_cpu_seconds_total')).toBe(true) // the app's own metrics beside ours

    // the counters go on counting
    await put(testJpeg(`metrics more ${Date.now()}`, 5000))
    const later = await scrape()
    expect(sampleValue(later, 'sai_image_storage_operation_duration_seconds_count', store)).toBe(6)
    expect(sampleValue(later, 'sai_image_storage_stored_bytes_total', { driver: 'fs' })).toBe(
      frames.reduce((sum, f) => sum + f.length, 0) + 5000
    )
  })
})
