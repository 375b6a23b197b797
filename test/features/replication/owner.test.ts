// One primary per replica (owner.ts), on a filesystem replica and on the real RADOS Gateway: the
// first primary to write marks the replica; a second gets ERR_CONFIG naming the first at its first
// call that would write, before anything is written (the replica listed before and after, marks
// included); two primaries with their own prefix or folder in one bucket or disk both work; a
// replica without a mark (an older version, migrate) gets one at the first write, without error. The
// same on a real Kubo node, whose mark is the node's (`/.sai-image-storage/` in MFS, whatever the index
// path: owner-ipfs.test.ts has two index paths on one node).
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, relative } from 'node:path'
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ImageStorage } from '../../../src/core/types.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { IpfsDriver } from '../../../src/drivers/ipfs/index.js'
import { S3Driver } from '../../../src/drivers/s3/index.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../../src/features/replication/index.js'
import { prune } from '../../../src/features/retention/prune.js'
import { testJpeg } from '../../../src/testing/index.js'
import { rpc, useKubo } from '../../drivers/ipfs/helpers.js'
import { tempDir } from '../../infra/helpers/tmp.js'

const s3 = inject('s3')
const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
const bucket = `sai-owner-${Date.now().toString(36)}`
const raw = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials, forcePathStyle: true })
beforeAll(async () => {
  await raw.send(new CreateBucketCommand({ Bucket: bucket }))
})
afterAll(() => {
  raw.destroy()
})
const node = useKubo({ flatfsSync: true }) // a node of this file's own: every pin on it is one of these replicas'
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/**
 * Where replicas live (a disk, a bucket): `replica(place)` opens one in its own place; `everything` lists all;
 * `mark` is where the mark of the replica `one` is, as `everything` lists it.
 */
interface Medium {
  replica: (place: string) => ImageStorage
  everything: () => Promise<string[]>
  mark: RegExp
}

const MEDIA: Array<[string, () => Promise<Medium>]> = [
  [
    'a filesystem replica',
    async () => {
      const disk = await tempDir('sai-owner-disk')
      return {
        replica: place => new FilesystemDriver({ root: join(disk, place) }),
        everything: async () =>
          (await readdir(disk, { recursive: true, withFileTypes: true }))
            .filter(e => e.isFile())
            .map(e => relative(disk, join(e.parentPath, e.name)))
            .sort(),
        mark: /^one\/\.marks\/owner\.json$/
      }
    }
  ],
  [
    'an S3 replica on the RADOS Gateway',
    async () => {
      const top = `o${Math.random().toString(36).slice(2)}/`
      return {
        replica: place =>
          new S3Driver({
            endpoint: s3.endpoint,
            region: s3.region,
            bucket,
            credentials,
            forcePathStyle: true,
            prefix: `${top}${place}/`,
            timeoutMs: 5000
          }),
        everything: async () => {
          const keys: string[] = []
          let token: string | undefined
          do {
            const page = await raw.send(
              new ListObjectsV2Command({ Bucket: bucket, Prefix: top, ContinuationToken: token })
            )
            keys.push(...(page.Contents ?? []).map(c => c.Key!))
            token = page.NextContinuationToken
          } while (token !== undefined)
          return keys.sort()
        },
        mark: /one\/\.marks\/owner\.json$/
      }
    }
  ],
  [
    'an IPFS replica on a Kubo node',
    async () => {
      // an IPFS replica is the whole node (its listing holds every pin, its mark is the node's): each test
      // starts with an empty node
      for (const pin of await pins()) await rpc(node.url, 'pin/rm', { arg: pin.slice('pin '.length) })
      for (const file of (await rpc(node.url, 'files/ls', { arg: '/' })).json.Entries ?? [])
        await rpc(node.url, 'files/rm', { arg: `/${file.Name}`, recursive: true })
      const top = `/o${Math.random().toString(36).slice(2)}`
      return {
        replica: place => new IpfsDriver({ url: node.url, indexPath: `${top}/${place}`, timeoutMs: 10_000 }),
        // every file in the node's MFS (the indexes and the node's marks), and every pin on the node
        everything: async () => [...(await mfsFiles('')), ...(await pins())].sort(),
        mark: /^\/\.sai-image-storage\/owner\.json$/
      }
    }
  ]
]

async function mfsFiles(dir: string): Promise<string[]> {
  const { json, message } = await rpc(node.url, 'files/ls', { arg: dir === '' ? '/' : dir, long: true })
  if (message !== undefined) return [] // nothing there yet
  const files: string[] = []
  for (const entry of json.Entries ?? [])
    if (entry.Type === 1) files.push(...(await mfsFiles(`${dir}/${entry.Name}`)))
    else files.push(`${dir}/${entry.Name}`)
  return files
}

async function pins(): Promise<string[]> {
  const { json } = await rpc(node.url, 'pin/ls', { type: 'recursive' })
  return Object.keys(json.Keys ?? {}).map(cid => `pin ${cid}`)
}

async function host(replica: ImageStorage): Promise<{ storage: ReplicatedStorage; primary: FilesystemDriver }> {
  const primary = new FilesystemDriver({ root: await tempDir('sai-owner-host') })
  return {
    primary,
    storage: createReplicatedStorage({ primary, replicas: [{ name: 'shared', storage: replica }], background: false })
  }
}

async function objectsOn(storage: ImageStorage): Promise<string[]> {
  const hashes: string[] = []
  for await (const entry of storage.list()) hashes.push(entry.sha256!)
  return hashes.sort()
}

describe.each(MEDIA)('two primaries on %s', (_name, makeMedium) => {
  it('the second gets ERR_CONFIG naming the first at every call that would write, and writes nothing', async () => {
    const medium = await makeMedium()
    const a = await host(medium.replica('one'))
    const b = await host(medium.replica('one'))
    const frames = [testJpeg('owner 1'), testJpeg('owner 2'), testJpeg('owner 3')]
    for (const frame of frames) await a.storage.store(frame)
    expect(await a.storage.drain()).toMatchObject({ copied: 3, pending: 0 })
    const aId = JSON.parse(await readFile(join(a.primary.root, '.replication', 'host-id'), 'utf8'))
    expect(aId).toMatchObject({ hostname: hostname(), stateDir: join(a.primary.root, '.replication') })
    const mark = JSON.parse((await medium.replica('one').marks!.read('owner.json'))!)
    expect(mark).toMatchObject({ id: aId.id, hostname: hostname() })
    const before = await medium.everything()
    expect(before.filter(k => k.includes('owner.json'))).toEqual([expect.stringMatching(medium.mark)])

    const refusal = {
      code: 'ERR_CONFIG',
      message: expect.stringMatching(
        new RegExp(`belongs to another primary: ${hostname()} \\(host id ${aId.id}.*take-over --from ${aId.id}`)
      )
    }
    // an overlapping frame and one of its own: refused, before its own disk is written too
    await expect(b.storage.store(frames[0]!)).rejects.toMatchObject(refusal)
    await expect(b.storage.store(testJpeg('b only'))).rejects.toMatchObject(refusal)
    await expect(b.storage.drain()).rejects.toMatchObject(refusal)
    await expect(b.storage.reconcile()).rejects.toMatchObject(refusal)
    await expect(b.storage.verify({ repair: true, force: true })).rejects.toMatchObject(refusal)
    await expect(b.storage.verify()).rejects.toMatchObject(refusal) // a read-only verify too (it writes nothing)
    await expect(b.storage.evict({ olderThan: 0 })).rejects.toMatchObject(refusal)
    await expect(b.storage.delete(sha256(frames[1]!))).rejects.toMatchObject(refusal)
    // a prune of B's union (A's frames, listed from the replica): refused before it deletes
    await expect(prune(b.storage, { olderThan: 0, minAgeMs: 0 })).rejects.toMatchObject(refusal)
    // reads are not refused, but heal nothing onto B's disk: the frames are A's
    expect(sha256(await b.storage.fetch(sha256(frames[2]!)))).toBe(sha256(frames[2]!))
    expect(await b.storage.exists(sha256(frames[1]!))).toBe(true)
    expect(await objectsOn(b.primary)).toEqual([])
    expect(await readdir(join(b.primary.root, '.replication'))).toEqual(['host-id']) // its identity, nothing else
    expect(await medium.everything()).toEqual(before)

    // A, restarted (a new process on the same state folder), carries on: verify clean, evict, fetch
    const again = createReplicatedStorage({
      primary: a.primary,
      replicas: [{ name: 'shared', storage: medium.replica('one') }],
      background: false
    })
    expect((await again.verify()).problems).toEqual([])
    expect(await again.evict({ olderThan: 0 })).toMatchObject({ evicted: 3, unsafe: 0 })
    for (const frame of frames) expect(sha256(await again.fetch(sha256(frame)))).toBe(sha256(frame))
    for (const storage of [a.storage, b.storage, again]) await storage.close()
  }, 60_000)

  // not on IPFS: an IPFS replica is the whole node (its listing holds every pin on it), so two index
  // folders on one node are one replica, and the second host is refused (owner-ipfs.test.ts)
  it.skipIf(_name.includes('IPFS'))(
    'each primary with its own prefix or folder in one bucket or disk: both store, copy and verify',
    async () => {
      const medium = await makeMedium()
      const a = await host(medium.replica('host-a'))
      const b = await host(medium.replica('host-b'))
      const shared = testJpeg('both hosts')
      for (const [storage, own] of [
        [a.storage, 'a'],
        [b.storage, 'b']
      ] as const) {
        await storage.store(shared)
        await storage.store(testJpeg(`only ${own}`))
        expect(await storage.drain()).toMatchObject({ copied: 2, pending: 0, failed: [] })
        expect((await storage.verify()).problems).toEqual([])
      }
      expect(await objectsOn(medium.replica('host-a'))).toEqual([sha256(shared), sha256(testJpeg('only a'))].sort())
      expect(await objectsOn(medium.replica('host-b'))).toEqual([sha256(shared), sha256(testJpeg('only b'))].sort())
      // each prefix or folder marked as its own host's
      for (const [h, place] of [
        [a, 'host-a'],
        [b, 'host-b']
      ] as const) {
        const id = JSON.parse(await readFile(join(h.primary.root, '.replication', 'host-id'), 'utf8')).id
        expect(JSON.parse((await medium.replica(place).marks!.read('owner.json'))!)).toMatchObject({ id })
      }
      for (const storage of [a.storage, b.storage]) await storage.close()
    },
    60_000
  )

  it('a replica without a mark (an older version, migrate) is marked at the first write, without error', async () => {
    const medium = await makeMedium()
    const old = medium.replica('old')
    const seeded = testJpeg('seeded by migrate')
    await old.store(seeded) // as migrate, or a primary of an older version, wrote it: no mark
    expect(await old.marks!.read('owner.json')).toBeUndefined()
    const a = await host(medium.replica('old'))
    await a.storage.store(seeded)
    await a.storage.store(testJpeg('new'))
    expect(await a.storage.drain()).toMatchObject({ failed: [], pending: 0 })
    const aId = JSON.parse(await readFile(join(a.primary.root, '.replication', 'host-id'), 'utf8'))
    expect(JSON.parse((await old.marks!.read('owner.json'))!)).toMatchObject({ id: aId.id })
    expect((await a.storage.verify()).problems).toEqual([])
    await a.storage.close()
  }, 60_000)

  it('two primaries marking one new replica at the same moment: exactly one wins, the other is refused', async () => {
    const medium = await makeMedium()
    const hosts = await Promise.all(Array.from({ length: 4 }, async () => await host(medium.replica('race'))))
    const results = await Promise.allSettled(hosts.map(async h => await h.storage.store(testJpeg('race'))))
    expect(results.filter(r => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results.filter(r => r.status === 'rejected'))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_CONFIG' })
    const winner = hosts[results.findIndex(r => r.status === 'fulfilled')]!
    const winnerId = JSON.parse(await readFile(join(winner.primary.root, '.replication', 'host-id'), 'utf8'))
    expect(JSON.parse((await medium.replica('race').marks!.read('owner.json'))!)).toMatchObject({ id: winnerId.id })
    for (const h of hosts) await h.storage.close()
  }, 60_000)
})
