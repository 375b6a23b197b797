// The restore runbook (docs/replication.md#restoring-a-lost-primary), end to end through the built
// CLI, on a filesystem replica, on the real RADOS Gateway and on a real Kubo node: host A stores,
// evicts and copies; its disk and state folder are wiped; the rebuilt host is refused (exit 6,
// naming A) until it takes the replica over with A's id; a second rebuilt host taking it over from A
// too is told it lost, naming the winner; verify --repair brings every frame back, each one
// fetchable; the old disk, should it come back, is refused from then on, naming the new owner.
import { createHash } from 'node:crypto'
import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ImageStorage } from '../../src/core/types.js'
import { FilesystemDriver } from '../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../src/drivers/ipfs/index.js'
import { S3Driver } from '../../src/drivers/s3/index.js'
import { testJpeg } from '../../src/testing/index.js'
import { rpc, useKubo } from '../drivers/ipfs/helpers.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { answer, cli } from './run.js'

const s3 = inject('s3')
const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
const bucket = `sai-takeover-${Date.now().toString(36)}`
const raw = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials, forcePathStyle: true })
beforeAll(async () => {
  await raw.send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => {
  raw.destroy()
})
// a node of this file's own: an IPFS replica is the whole node (its listing holds every pin); its flatfs syncs, as
// a replica's must for an eviction to count its copies
const node = useKubo({ flatfsSync: true })
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** A replica of its own, and the environment that names it for the CLI. */
const REPLICAS: Array<[string, () => Promise<{ replica: ImageStorage; env: Record<string, string> }>]> = [
  [
    'a filesystem replica',
    async () => {
      const root = await tempDir('sai-takeover-replica')
      return {
        replica: new FilesystemDriver({ root }),
        env: { SAI_IMAGE_STORAGE_REPLICAS: 'fs', SAI_IMAGE_STORAGE_REPLICA_PATH: root }
      }
    }
  ],
  [
    'an S3 replica on the RADOS Gateway',
    async () => {
      const prefix = `t${Math.random().toString(36).slice(2)}/`
      const place = { endpoint: s3.endpoint, region: s3.region, bucket, prefix, forcePathStyle: true }
      return {
        replica: new S3Driver({ ...place, credentials, timeoutMs: 5000 }),
        env: {
          SAI_IMAGE_STORAGE_REPLICAS: 's3',
          SAI_S3_ENDPOINT: s3.endpoint,
          SAI_S3_REGION: s3.region,
          SAI_S3_BUCKET: bucket,
          SAI_S3_PREFIX: prefix,
          SAI_S3_ACCESS_KEY_ID: s3.accessKeyId,
          SAI_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
          SAI_S3_TIMEOUT_MS: '5000'
        }
      }
    }
  ],
  [
    'an IPFS replica on a Kubo node',
    async () => {
      const pins = await rpc(node.url, 'pin/ls', { type: 'recursive' })
      for (const cid of Object.keys(pins.json.Keys ?? {})) await rpc(node.url, 'pin/rm', { arg: cid })
      const indexPath = `/t${Math.random().toString(36).slice(2)}`
      return {
        replica: new IpfsDriver({ url: node.url, indexPath, timeoutMs: 10_000 }),
        env: {
          SAI_IMAGE_STORAGE_REPLICAS: 'ipfs',
          SAI_IPFS_API_URL: node.url,
          SAI_IPFS_INDEX_PATH: indexPath,
          SAI_IPFS_TIMEOUT_MS: '10000'
        }
      }
    }
  ]
]

async function hashesOn(storage: ImageStorage): Promise<string[]> {
  const hashes: string[] = []
  for await (const entry of storage.list()) hashes.push(entry.sha256!)
  return hashes.sort()
}

const hostId = async (root: string): Promise<string> =>
  JSON.parse(await readFile(join(root, '.replication', 'host-id'), 'utf8')).id

describe.each(REPLICAS)('a primary rebuilt and restored from %s', (_name, makeReplica) => {
  it('is refused until it takes the replica over; then every frame comes back; the old host is refused', async () => {
    const { replica, env: replicaEnv } = await makeReplica()
    const disk = await tempDir('sai-takeover-host')
    const root = join(disk, 'images')
    const env = { ...replicaEnv, SAI_IMAGE_STORAGE_PATH: root }
    const inputs = await tempDir('sai-takeover-inputs')
    const frames = [1, 2, 3, 4, 5].map(n => testJpeg(`take-over ${n}`))
    const files = await Promise.all(
      frames.map(async (frame, i) => {
        await writeFile(join(inputs, `${i}.jpg`), frame)
        return join(inputs, `${i}.jpg`)
      })
    )
    // host A: two frames stored and evicted (on the replica only), a third stored
    expect(cli(['store', files[0]!, files[1]!], { env }).code).toBe(0)
    expect(cli(['evict', '--older-than', '0s'], { env }).code).toBe(0)
    expect(cli(['store', files[2]!], { env }).code).toBe(0)
    const oldId = await hostId(root)
    const held = frames.slice(0, 3).map(sha256).sort()
    expect(await hashesOn(replica)).toEqual(held)
    const oldDisk = join(disk, 'old-disk')
    await cp(root, oldDisk, { recursive: true }) // the old disk, should it ever come back
    await rm(root, { recursive: true }) // A's disk dies, state folder and all

    // the rebuilt host, before its take-over: refused, exit 6, naming A; nothing written anywhere
    const mark = await replica.marks!.read('owner.json')
    const refused = cli(['store', files[3]!], { env })
    expect(refused.code).toBe(6)
    expect(refused.stderr).toContain(`belongs to another primary: ${hostname()} (host id ${oldId}`)
    expect(refused.stderr).toContain(`sai-images take-over --from ${oldId}`)
    expect(cli(['replicate'], { env }).code).toBe(6)
    expect(cli(['verify', '--repair', '--force'], { env }).code).toBe(6)
    expect(await hashesOn(new FilesystemDriver({ root }))).toEqual([])
    expect(await hashesOn(replica)).toEqual(held)
    expect(await replica.marks!.read('owner.json')).toBe(mark)

    // take-over without --from, or from a host that is not the owner: nothing changes
    const shown = cli(['take-over'], { env })
    expect(shown.code).toBe(2)
    expect(shown.stdout).toContain(`owned by ${hostname()} (host id ${oldId}`)
    expect(shown.stdout).toContain(
      `nothing changed: to take it over (that host is gone for good), run sai-images take-over --from ${oldId}`
    )
    const wrong = cli(['take-over', '--from', 'not-the-owner'], { env })
    expect(wrong.code).toBe(6)
    expect(wrong.stderr).toContain("it is not not-the-owner's: nothing was changed")
    expect(await replica.marks!.read('owner.json')).toBe(mark)

    // the take-over, then the restore
    const taken = cli(['take-over', '--from', oldId, '--json'], { env })
    expect(taken.code).toBe(0)
    const newId = await hostId(root)
    expect(newId).not.toBe(oldId)
    expect(answer(taken)).toMatchObject({
      takenOver: true,
      me: { id: newId },
      replicas: [{ state: 'other', owner: { id: oldId } }]
    })
    expect(JSON.parse((await replica.marks!.read('owner.json'))!)).toMatchObject({
      id: newId,
      takenOverFrom: { id: oldId }
    })
    // a second rebuilt host taking it over from A too (a moment later, or in the same instant: owner-race.test.ts):
    // it lost the race, exit 6, naming the winner; the mark stays the winner's
    const late = cli(['take-over', '--from', oldId], { env: { ...env, SAI_IMAGE_STORAGE_PATH: join(disk, 'late') } })
    expect(late.code).toBe(6)
    expect(late.stderr).toMatch(/another take-over of replica \w+ \(/)
    expect(late.stderr).toContain(`won at the same moment: it belongs to ${hostname()} (host id ${newId}`)
    expect(JSON.parse((await replica.marks!.read('owner.json'))!)).toMatchObject({ id: newId })
    expect(cli(['verify', '--repair', '--force'], { env }).code).toBe(0)
    expect(await hashesOn(new FilesystemDriver({ root }))).toEqual(held)
    for (const frame of frames.slice(0, 3)) {
      const fetched = cli(['fetch', sha256(frame)], { env })
      expect(fetched.code).toBe(0)
      expect(sha256(fetched.bytes)).toBe(sha256(frame))
    }
    expect(cli(['store', files[3]!], { env }).code).toBe(0)
    expect(cli(['replicate'], { env }).code).toBe(0)

    // the old disk comes back (the same host name, its old state folder): refused, naming the new owner
    const old = cli(['store', files[4]!], { env: { ...env, SAI_IMAGE_STORAGE_PATH: oldDisk } })
    expect(old.code).toBe(6)
    expect(old.stderr).toContain(`(host id ${newId}`)
    expect(cli(['replicate'], { env: { ...env, SAI_IMAGE_STORAGE_PATH: oldDisk } }).code).toBe(6)
    expect(await readdir(oldDisk)).not.toContain(sha256(frames[4]!).slice(0, 2))
    expect(await hashesOn(replica)).toEqual([...held, sha256(frames[3]!)].sort())
  }, 120_000)
})
