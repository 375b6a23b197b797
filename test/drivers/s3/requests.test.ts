// Over S3, whole-store commands ask the listing, not each object: stats and a prune's dry run of
// 2,500 objects make three list requests (1,000 keys a page) and no HEAD or GET. Counted by a proxy
// in front of the real RADOS Gateway.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer, request, type Server } from 'node:http'
import { join } from 'node:path'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { forEachConcurrent } from '../../../src/core/concurrency.js'
import { PrefixSharding } from '../../../src/core/sharding.js'
import { prune } from '../../../src/features/retention/prune.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { ROOT } from '../../infra/helpers/consumer.js'

const s3 = inject('s3')
const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
const bucket = `sai-count-${Date.now().toString(36)}`
const raw = new S3Client({
  endpoint: s3.endpoint,
  region: s3.region,
  credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED'
})
const COUNT = 2500
const requests: string[] = []
let proxy: Server
let proxyUrl = ''

beforeAll(async () => {
  await raw.send(new CreateBucketCommand({ Bucket: bucket }))
  const sharding = new PrefixSharding()
  await forEachConcurrent(
    Array.from({ length: COUNT }, (_, i) => i),
    16,
    async i => {
      const body = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(`object ${i}`)])
      await raw.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `store/${sharding.encode(createHash('sha256').update(body).digest('hex'))}`,
          Body: body
        })
      )
    }
  )
  const target = new URL(s3.endpoint)
  proxy = createServer((req, res) => {
    requests.push(`${req.method} ${req.url!.includes('list-type=2') ? 'list' : 'object'}`)
    req.pipe(
      request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        answer => {
          res.writeHead(answer.statusCode!, answer.headers)
          answer.pipe(res)
        }
      )
    )
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`
}, 120_000)
afterAll(() => {
  raw.destroy()
  proxy?.close()
})

function tally(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const r of requests) counts[r] = (counts[r] ?? 0) + 1
  return counts
}

describe('whole-store commands over S3 list, they do not HEAD each object', () => {
  it('sai-images stats: three list requests for 2,500 objects, nothing else', async () => {
    requests.length = 0
    const env = {
      ...process.env,
      SAI_IMAGE_STORAGE_DRIVER: 's3',
      SAI_S3_ENDPOINT: proxyUrl,
      SAI_S3_BUCKET: bucket,
      SAI_S3_PREFIX: 'store/',
      SAI_S3_REGION: s3.region,
      SAI_S3_ACCESS_KEY_ID: s3.accessKeyId,
      SAI_S3_SECRET_ACCESS_KEY: s3.secretAccessKey
    }
    // (not spawnSync: the proxy runs in this process)
    const stats = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), 'stats', '--json'], { env })
    let stdout = ''
    stats.stdout.on('data', d => {
      stdout += d
    })
    expect(await new Promise(resolve => stats.on('close', resolve))).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({ objects: COUNT })
    expect(tally()).toEqual({ 'GET list': Math.ceil(COUNT / 1000) + 1 }) // the objects' pages, and the quarantine's
  })

  it('a prune by age and by budget, in a dry run: list requests only', async () => {
    const storage = new S3Driver({
      endpoint: proxyUrl,
      region: s3.region,
      bucket,
      credentials,
      prefix: 'store/',
      forcePathStyle: true
    })
    requests.length = 0
    const report = await prune(storage, { olderThan: 0, budgetBytes: 1000, dryRun: true, minAgeMs: 0 })
    expect(report).toMatchObject({ examined: COUNT, wouldDelete: COUNT, deleted: 0 })
    const counted = tally()
    console.log(`prune dry run over S3: ${JSON.stringify(counted)}, ${report.passes} passes`)
    expect(Object.keys(counted)).toEqual(['GET list'])
    // one listing: the budget's cut is found in its spill file
    expect(counted['GET list']).toBe(Math.ceil(COUNT / 1000))
    expect(report.passes).toBe(1)
    await storage.close()
  })
})
