/**
 * The fsck on S3 (verify.ts): repair, quarantine, storms, against a real Ceph RADOS Gateway (or the S3
 * that SAI_TEST_S3_* names).
 */
import { execFileSync } from 'node:child_process'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../../src/testing/index.js'
import { bucket, raw, env, cli, fresh, all, useBucket } from './helpers.js'

useBucket()

describe('the fsck on S3 (verify.ts): repair, quarantine, storms', () => {
  it('verify --repair moves damaged objects to .quarantine; the CLI exits 1, then 0', async () => {
    const storage = fresh()
    const jpeg = testJpeg(`quarantine ${Date.now()}`)
    const { hash, key } = await storage.store(jpeg)
    await raw.send(
      new PutObjectCommand({ Bucket: bucket, Key: storage.prefix + key, Body: Buffer.from('not the bytes') })
    )
    const run = (...args: string[]): { status: number | null; out: any } => {
      try {
        return {
          status: 0,
          out: JSON.parse(
            execFileSync(process.execPath, [cli, 'verify', '--driver', 's3', '--json', ...args], {
              env: { ...env, SAI_S3_PREFIX: storage.prefix },
              encoding: 'utf8'
            })
          )
        }
      } catch (err: any) {
        return { status: err.status, out: JSON.parse(err.stdout) }
      }
    }
    expect(run()).toMatchObject({
      status: 1,
      out: { checked: 1, clean: false, problems: [{ reason: 'corrupt', key }] }
    })
    // quarantined: the frame is lost from the store, so the repair is not clean either
    const repaired = run('--repair')
    expect(repaired).toMatchObject({
      status: 1,
      out: { clean: false, quarantined: 1, problems: [{ reason: 'corrupt', action: 'quarantined' }] }
    })
    expect(repaired.out.problems[0].movedTo).toMatch(
      new RegExp(`^s3://${bucket}/${storage.prefix}\\.quarantine/${hash}\\.\\d+\\.corrupt$`)
    )
    expect(run()).toMatchObject({ status: 0, out: { checked: 0, clean: true, quarantine: { objects: 1 } } })
    expect(await storage.exists(hash)).toBe(false)
    await expect(storage.fetch(hash)).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
      message: expect.stringContaining('a repair quarantined it')
    })
    const [entry] = await all(storage.quarantine.list())
    expect(entry).toMatchObject({ sha256: hash, reason: 'corrupt', size: 'not the bytes'.length })
    // bytes that do not match their name are refused back, and stay in the quarantine
    await expect(storage.quarantine.restore(entry!.id)).rejects.toMatchObject({ code: 'ERR_INTEGRITY' })
    expect(await storage.exists(hash)).toBe(false)
    expect(await all(storage.quarantine.list())).toHaveLength(1)
    // unless forced: an operator who wants them back on purpose
    expect(await storage.quarantine.restore(entry!.id, { force: true })).toBe(true)
    expect(await storage.exists(hash)).toBe(true)
    expect(await all(storage.quarantine.list())).toEqual([])
  })

  it('a repair that would quarantine most of the bucket is a storm: nothing moves unless forced', async () => {
    const storage = fresh()
    const stored = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => await storage.store(testJpeg(`storm ${i} ${Date.now()}`)))
    )
    // every object altered at once (a proxy rewriting bodies, another tool writing the prefix): no bit rot
    for (const { key } of stored)
      await raw.send(
        new PutObjectCommand({ Bucket: bucket, Key: storage.prefix + key, Body: Buffer.from('not the bytes') })
      )
    const refused = await storage.verify({ repair: true })
    expect(refused).toMatchObject({
      checked: 12,
      clean: false,
      quarantined: 0,
      storm: { found: 12, objects: 12, refused: true }
    })
    expect(refused.storm!.cause).toMatch(/force/)
    expect(await all(storage.quarantine.list())).toEqual([])
    const forced = await storage.verify({ repair: true, force: true })
    expect(forced).toMatchObject({ quarantined: 12, clean: false })
    expect(forced.storm).toBeUndefined()
    expect(await all(storage.quarantine.list())).toHaveLength(12)
  })
})
