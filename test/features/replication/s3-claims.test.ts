// A killed prune's claim on an S3 replica (`{prefix}.pruning/<sha256>`, drivers/s3/claim.ts), on the real RADOS
// Gateway: a replicated verify reports it once it is stale (STALE_CLAIM_MS), naming the replica; `--repair` sweeps
// it (verify.ts `sweepReplicas`); a younger claim, maybe a live prune's, is left. A claim's age is the gateway's
// clock (its Last-Modified against its answer's Date): the replica's window is shortened to 3 s and waited for.
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage } from '../../../src/features/replication/index.js'
import { testJpeg } from '../../../src/testing/index.js'
import { bucket, claimWindow, fresh, raw, useBucket } from '../../drivers/s3/helpers.js'
import { tempDir } from '../../infra/helpers/tmp.js'

useBucket()

/** A claim's window, a minute in use: the gateway's clock stamps a claim, so its age is waited for. */
const WINDOW_MS = 3000

/** Puts a claim as a prune does (an empty object). */
async function claim(key: string): Promise<void> {
  await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(0) }))
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
    claimWindow(replica, WINDOW_MS)
    const storage = createReplicatedStorage({
      primary,
      replicas: [{ name: 's3', storage: replica }],
      background: false
    })
    const stored = await storage.store(testJpeg('claimed by a killed prune'))
    expect(await storage.drain()).toMatchObject({ copied: 1, pending: 0 })
    const [old, young] = [stored.sha256, 'f'.repeat(64)].map(h => `${replica.prefix}.pruning/${h}`) as [string, string]
    await claim(old)
    const report = { key: `.pruning/${stored.sha256}`, reason: 'stale-claim', copy: 's3' }
    // younger than the window: a live prune's, maybe
    expect((await storage.verify()).problems).toEqual([])
    // past the window by the gateway's clock (its whole seconds); then a live prune's claim beside it
    await new Promise(resolve => setTimeout(resolve, WINDOW_MS + 1500))
    await claim(young)
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
