// A killed prune's claim on an S3 replica (`{prefix}.pruning/<sha256>`, drivers/s3/claim.ts), on the real RADOS
// Gateway: a replicated verify reports it once it is stale (STALE_CLAIM_MS), naming the replica; `--repair` sweeps
// it (verify.ts `sweepReplicas`); a younger claim, maybe a live prune's, is left. The gateway stamps Last-Modified
// itself, so the claims' age comes from this process's clock, moved ahead (Date only: SigV4 allows 15 minutes).
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { STALE_CLAIM_MS } from '../../../src/drivers/s3/claim.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { bucket, fresh, raw, useBucket } from '../../drivers/s3/helpers.js'
import { tempDir } from '../../infra/helpers/tmp.js'

useBucket()
afterEach(() => {
  vi.useRealTimers()
})

/** Puts a claim as a prune does (an empty object), and returns when the gateway says it was made. */
async function claim(key: string): Promise<number> {
  await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(0) }))
  return (await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).LastModified!.getTime()
}

const exists = async (key: string): Promise<boolean> =>
  await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => true,
    () => false
  )

describe("a killed prune's claim on an S3 replica", () => {
  it('verify reports it once stale, naming the replica; --repair sweeps it and leaves a younger one', async () => {
    const replica = fresh()
    const primary = new FilesystemDriver({ root: await tempDir('sai-claims') })
    const storage = createReplicatedStorage({
      primary,
      replicas: [{ name: 's3', storage: replica }],
      background: false
    })
    const stored = await storage.store(testJpeg('claimed by a killed prune'))
    expect(await storage.drain()).toMatchObject({ copied: 1, pending: 0 })
    const [old, young] = [stored.sha256, 'f'.repeat(64)].map(h => `${replica.prefix}.pruning/${h}`) as [string, string]
    const oldAt = await claim(old)
    // Last-Modified has whole seconds: the younger one a second later at least
    let youngAt = oldAt
    while (youngAt <= oldAt) {
      await new Promise(resolve => setTimeout(resolve, 250))
      youngAt = await claim(young)
    }
    const report = { key: `.pruning/${stored.sha256}`, reason: 'stale-claim', copy: 's3' }

    // both younger than STALE_CLAIM_MS: a live prune's, maybe
    expect((await storage.verify()).problems).toEqual([])
    // HEAD's Last-Modified has whole seconds, a listing's milliseconds (the first claim was made up to 999 ms after
    // oldAt, the second at least 1 s after it): the clock 999 ms past oldAt's staleness makes the first stale and
    // leaves the second young whatever those milliseconds were (at 500 ms past, CI met a first claim still young)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(oldAt + STALE_CLAIM_MS + 999)
    const look = await storage.verify()
    expect(look.problems).toEqual([expect.objectContaining(report)])
    expect(look).toMatchObject({ clean: false, counts: { 'stale-claim': 1 } })
    expect(await exists(old)).toBe(true) // reported, not removed

    const repaired = await storage.verify({ repair: true })
    expect(repaired.problems).toEqual([expect.objectContaining({ ...report, action: 'removed' })])
    expect(await exists(old)).toBe(false)
    expect(await exists(young)).toBe(true)
    expect((await storage.verify()).problems).toEqual([])
    expect(Buffer.compare(await replica.fetch(stored.sha256), await primary.fetch(stored.sha256))).toBe(0)
    await storage.close()
  }, 60_000)
})
