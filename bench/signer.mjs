// The S3 driver's SigV4 signer: the SDK's own (@smithy/signature-v4, taken from the S3 client's
// config, as src/drivers/s3/client.ts does) against the hand-written signer it replaced in 0.2,
// kept here as the baseline. Two figures: the CPU time to sign one request, and PUTs of 600 KB
// frames to a real gateway through the driver's DirectClient with each signer, in alternating rounds.
//   node bench/signer.mjs
// (the PUTs need SAI_TEST_S3_ENDPOINT, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY: `heavy` sets them)
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { build } from 'esbuild'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
const out = join(mkdtempSync(join(tmpdir(), 'sai-signer-')), 'direct.mjs')
await build({
  entryPoints: [new URL('../src/drivers/s3/direct.ts', import.meta.url).pathname],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  logLevel: 'error'
})
const { DirectClient, bucketBase } = await import(out)

/** The hand-written signer of 0.1 (src/drivers/s3/direct.ts before 0.2), behind the same `sign`. */
class HandSigner {
  constructor(region, credentials) {
    Object.assign(this, { region, credentials })
  }

  async sign(request) {
    const { accessKeyId, secretAccessKey, sessionToken } = this.credentials
    const now = new Date().toISOString().replace(/[-:]|\.\d+/g, '')
    const day = now.slice(0, 8)
    const all = { ...request.headers, 'x-amz-date': now }
    if (sessionToken !== undefined) all['x-amz-security-token'] = sessionToken
    const names = Object.keys(all).sort()
    const sha256 = all['x-amz-content-sha256']
    const canonical = [
      request.method,
      request.path,
      '',
      ...names.map(n => `${n}:${all[n].trim()}`),
      '',
      names.join(';'),
      sha256
    ].join('\n')
    const scope = `${day}/${this.region}/s3/aws4_request`
    const toSign = ['AWS4-HMAC-SHA256', now, scope, createHash('sha256').update(canonical).digest('hex')].join('\n')
    const signature = createHmac('sha256', this.keyFor(scope, day, secretAccessKey))
      .update(toSign)
      .digest('hex')
    all.authorization =
      `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, ` +
      `Signature=${signature}`
    return { headers: all }
  }

  keyFor(scope, day, secret) {
    if (this.key?.scope !== scope) {
      let key = createHmac('sha256', `AWS4${secret}`).update(day).digest()
      for (const part of [this.region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest()
      this.key = { scope, key }
    }
    return this.key.key
  }
}

const env = process.env
const endpoint = env.SAI_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:1'
const region = env.SAI_TEST_S3_REGION ?? 'us-east-1'
const credentials = {
  accessKeyId: env.SAI_TEST_S3_ACCESS_KEY_ID ?? 'AKIDEXAMPLE',
  secretAccessKey: env.SAI_TEST_S3_SECRET_ACCESS_KEY ?? 'wJalrXUtnFEMI'
}
const client = new S3Client({ region, endpoint, credentials, forcePathStyle: true })
const signers = { sdk: await client.config.signer(), hand: new HandSigner(region, credentials) }

// 1. signing alone: a PUT's request, as DirectClient builds it
const request = () => ({
  method: 'PUT',
  protocol: 'http:',
  hostname: '127.0.0.1',
  port: 7480,
  path: '/bench/ab/cd/abcd.jpg',
  query: {},
  headers: {
    'content-type': 'image/jpeg',
    'content-length': '614400',
    'x-amz-meta-sha256': 'ab'.repeat(32),
    host: '127.0.0.1:7480',
    'x-amz-content-sha256': 'ab'.repeat(32)
  }
})
const perSign = { sdk: [], hand: [] }
for (let round = 0; round < 6; round++)
  for (const [name, signer] of Object.entries(signers)) {
    const n = round === 0 ? 2000 : 20_000
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await signer.sign(request())
    if (round > 0) perSign[name].push(Number(process.hrtime.bigint() - start) / 1000 / n)
  }
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(
  `sign one request: sdk ${median(perSign.sdk).toFixed(1)} µs, hand ${median(perSign.hand).toFixed(1)} µs ` +
    `(median of 5 rounds of 20,000)`
)

// 2. PUTs of 600 KB frames to the gateway, one at a time, rounds of 50 alternating
if (env.SAI_TEST_S3_ENDPOINT === undefined) process.exit(0)
const bucket = `sai-signer-${Date.now()}`
await client.send(new CreateBucketCommand({ Bucket: bucket }))
const frames = Array.from({ length: 50 }, () => randomBytes(600 * 1024))
const hashes = frames.map(f => createHash('sha256').update(f).digest('hex'))
const puts = { sdk: { ms: [], cpu: [] }, hand: { ms: [], cpu: [] } }
for (let round = 0; round < 7; round++)
  for (const [name, signer] of Object.entries(signers)) {
    const direct = new DirectClient(bucketBase(endpoint, bucket, true), signer, 30_000)
    const [start, cpu] = [performance.now(), process.cpuUsage()]
    for (let i = 0; i < frames.length; i++) {
      const answer = await direct.put(`${name}/${hashes[i]}.jpg`, frames[i], hashes[i], {
        'content-type': 'image/jpeg'
      })
      if (answer.status !== 200) throw new Error(`PUT ${answer.status} ${answer.code}`)
    }
    const used = process.cpuUsage(cpu)
    direct.destroy()
    if (round === 0) continue
    puts[name].ms.push((performance.now() - start) / frames.length)
    puts[name].cpu.push((used.user + used.system) / 1000 / frames.length)
  }
for (const name of ['sdk', 'hand'])
  console.log(
    `PUT 600 KB to ${endpoint}: ${name} ${median(puts[name].ms).toFixed(2)} ms each, ` +
      `${median(puts[name].cpu).toFixed(2)} ms CPU (median of 6 rounds of 50)`
  )
// the same 100 keys were written again each round (a memstore gateway holds every byte): removed, then the bucket
for (const name of Object.keys(signers))
  for (const h of hashes) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${name}/${h}.jpg` }))
await client.send(new DeleteBucketCommand({ Bucket: bucket }))
client.destroy()
