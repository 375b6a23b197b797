// Take-overs racing (owner.ts, core/marks.ts): N rebuilt primaries, each in its own process, take one
// replica over from its owner at the same instant, round after round, on a filesystem replica, on the
// real RADOS Gateway and on a real Kubo node. Exactly one wins each round; every other gets
// TakeOverConflictError (ERR_CONFIG) naming the winner; the mark names the winner and whom it took
// the replica from; the losers wrote nothing of theirs there.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ImageStorage } from '../../../src/core/types.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { useKubo } from '../../drivers/ipfs/helpers.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const RACERS = 4
const ROUNDS = 3
const FIXTURE = new URL('../../infra/fixtures/take-over.mjs', import.meta.url).pathname
const s3 = inject('s3')
const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
const bucket = `sai-owner-race-${Date.now().toString(36)}`
const raw = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials, forcePathStyle: true })
const node = useKubo()
beforeAll(async () => {
  await raw.send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => {
  raw.destroy()
})

/** A replica to race on: the driver here, and how a racer's process opens the same one. */
const MEDIA: Array<[string, () => Promise<{ replica: () => ImageStorage; options: object }>]> = [
  [
    'a filesystem replica',
    async () => {
      const replicaRoot = await tempDir('sai-race-replica')
      return { replica: () => new FilesystemDriver({ root: replicaRoot }), options: { replicaRoot } }
    }
  ],
  [
    'an S3 replica on the RADOS Gateway',
    async () => {
      const s3Options = {
        endpoint: s3.endpoint,
        region: s3.region,
        bucket,
        credentials,
        forcePathStyle: true,
        prefix: `r${Math.random().toString(36).slice(2)}/`,
        timeoutMs: 10_000
      }
      return { replica: () => new S3Driver(s3Options), options: { s3: s3Options } }
    }
  ],
  [
    'an IPFS replica on a Kubo node',
    async () => {
      const ipfs = { url: node.url, indexPath: `/race-${Math.random().toString(36).slice(2)}`, timeoutMs: 10_000 }
      return { replica: () => new IpfsDriver(ipfs), options: { ipfs } }
    }
  ]
]

/** Starts a racer; `go` lets it take over; `result` is its last line. */
function racer(options: object): { ready: Promise<void>; go: () => void; result: Promise<any> } {
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  let signal: () => void = () => {}
  const ready = new Promise<void>(resolve => {
    signal = resolve
  })
  child.stdout.on('data', (data: Buffer) => {
    out += data.toString()
    if (out.includes('"ready"')) signal()
  })
  const result = new Promise<any>((resolve, reject) =>
    child.on('close', code => {
      const lines = out.trim().split('\n')
      if (code === 0 && lines.length === 2) resolve(JSON.parse(lines[1]!))
      else reject(new Error(`racer exited ${code}: ${out}`))
    })
  )
  return { ready, result, go: () => child.stdin.end('go\n') }
}

describe.each(MEDIA)('take-overs racing on %s', (_name, makeMedium) => {
  it(`${RACERS} processes take one replica over at once, ${ROUNDS} rounds: one wins each round`, async () => {
    const medium = await makeMedium()
    const first = new FilesystemDriver({ root: await tempDir('sai-race-owner') })
    const owner = createReplicatedStorage({
      primary: first,
      replicas: [{ name: 'shared', storage: medium.replica() }],
      background: false
    })
    await owner.store(testJpeg('race for the replica'))
    expect(await owner.drain()).toMatchObject({ copied: 1, failed: [] })
    await owner.close()
    let from = JSON.parse(await readFile(join(first.root, '.replication', 'host-id'), 'utf8')).id as string
    for (let round = 0; round < ROUNDS; round++) {
      const roots = await Promise.all(Array.from({ length: RACERS }, async () => await tempDir('sai-race-host')))
      const racers = roots.map(root => racer({ ...medium.options, root, from }))
      await Promise.all(racers.map(async r => await r.ready))
      for (const r of racers) r.go()
      const results = await Promise.all(racers.map(async r => await r.result))
      const winners = results.filter(r => r.won !== undefined)
      expect(winners, JSON.stringify(results)).toHaveLength(1)
      const winner = winners[0].won as string
      for (const lost of results.filter(r => r.lost !== undefined)) {
        expect(lost).toMatchObject({ code: 'ERR_CONFIG', name: 'TakeOverConflictError', winner })
        expect(lost.message).toContain(`host id ${winner}`)
      }
      const mark = JSON.parse((await medium.replica().marks!.read('owner.json'))!)
      expect(mark).toMatchObject({ id: winner, takenOverFrom: { id: from } })
      from = winner
    }
  }, 180_000)
})
