// What an operator asks (status.ts): where each copy of a frame is (whereis), and how far behind
// each replica is, read from the outbox and the records other processes keep (status).
import { appendFile, mkdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testJpeg } from '../../../src/testing/index.js'
import { flip, pair } from './helpers.js'

describe('whereis', () => {
  it('each copy: present, its size and last store, and when and how it was verified', async () => {
    const { storage, primary } = await pair()
    const jpeg = testJpeg('whereis', 12_000)
    const { hash, sha256 } = await storage.store(jpeg)
    const queued = await storage.whereis(hash)
    expect(queued).toEqual({
      sha256,
      copies: [
        { name: 'primary', present: true, size: 12_000, lastStoredAt: (await primary.stat(hash)).lastStoredAt },
        { name: 'copy', present: false, size: undefined, lastStoredAt: undefined }
      ]
    })
    const before = Date.now()
    await storage.drain()
    const copied = await storage.whereis(sha256.toUpperCase())
    expect(copied.copies[1]).toMatchObject({ name: 'copy', present: true, size: 12_000, how: 'upload' })
    expect(copied.copies[1]!.verifiedAt!.getTime()).toBeGreaterThanOrEqual(before)
    await expect(storage.whereis('../etc/passwd')).rejects.toMatchObject({ code: 'ERR_INVALID_REF' })
    await storage.close()
  })
})

describe('status', () => {
  it('the backlog per replica, and its oldest entry', async () => {
    const { storage } = await pair()
    expect(storage.status()).toEqual({
      replicas: [
        { name: 'copy', pending: 0, oldestPendingAt: undefined, lastReconcile: undefined, failing: undefined }
      ],
      lastReconcileAt: undefined,
      lastVerifyAt: undefined,
      belowWantedCopies: undefined,
      lost: undefined,
      countedBy: undefined,
      heals: { healed: 0, lastAt: undefined }
    })
    const before = Date.now() - 1000
    await storage.store(testJpeg('status a'))
    await storage.store(testJpeg('status b'))
    const [copy] = storage.status().replicas
    expect(copy).toMatchObject({ name: 'copy', pending: 2 })
    expect(copy!.oldestPendingAt!.getTime()).toBeGreaterThanOrEqual(before)
    await storage.close()
  })

  it('reads what other processes recorded: a failing replica, the heals, the latest whole scan', async () => {
    const { storage, state } = await pair()
    await mkdir(join(state, 'failing'), { recursive: true })
    await writeFile(
      join(state, 'failing', 'copy.json'),
      JSON.stringify({ since: '2026-01-01T00:00:00.000Z', code: 'EIO' })
    )
    await appendFile(join(state, 'heals.log'), `1700000000000 ${'a'.repeat(64)} copy missing\n`)
    await appendFile(join(state, 'heals.log'), `1700000001000 ${'b'.repeat(64)} copy damaged\n`)
    const reconcile = { at: '2026-02-01T00:00:00.000Z', primary: 5, replicas: [], belowWantedCopies: 3, lost: 1 }
    await writeFile(join(state, 'reconcile.json'), JSON.stringify(reconcile))
    await writeFile(
      join(state, 'verify.json'),
      JSON.stringify({ at: '2026-01-15T00:00:00.000Z', belowWantedCopies: 7, lost: 2 })
    )
    expect(storage.status()).toMatchObject({
      replicas: [{ name: 'copy', failing: { since: new Date('2026-01-01T00:00:00.000Z'), code: 'EIO' } }],
      heals: { healed: 2, lastAt: new Date(1700000001000) },
      lastReconcileAt: new Date('2026-02-01T00:00:00.000Z'),
      lastVerifyAt: new Date('2026-01-15T00:00:00.000Z'),
      belowWantedCopies: 3, // the reconcile is the later scan
      lost: 1,
      countedBy: 'reconcile'
    })
    await writeFile(
      join(state, 'verify.json'),
      JSON.stringify({ at: '2026-03-01T00:00:00.000Z', belowWantedCopies: 7, lost: 2 })
    )
    expect(storage.status()).toMatchObject({ belowWantedCopies: 7, lost: 2, countedBy: 'verify' })
    await writeFile(join(state, 'reconcile.json'), '{"torn') // half a record: none
    expect(storage.status()).toMatchObject({ lastReconcileAt: undefined, countedBy: 'verify' })
    await appendFile(join(state, 'heals.log'), '\0\0\0\0') // a tail a power cut filled with zeros: no heal
    expect(storage.status().heals).toEqual({ healed: 2, lastAt: new Date(1700000001000) })
    await storage.close()
  })

  it('the latest scan is the one that began last: a long verify that began before a reconcile does not hide its loss', async () => {
    const { storage, state } = await pair()
    await mkdir(state, { recursive: true })
    const at = Date.parse('2026-02-01T00:00:00.000Z')
    const reconcile = { at: new Date(at).toISOString(), primary: 5, replicas: [], belowWantedCopies: 1, lost: 1 }
    await writeFile(join(state, 'reconcile.json'), JSON.stringify(reconcile))
    // began an hour before the reconcile, ended an hour after it
    const verify = { began: new Date(at - 3600_000), at: new Date(at + 3600_000), belowWantedCopies: 0, lost: 0 }
    await writeFile(join(state, 'verify.json'), JSON.stringify(verify))
    expect(storage.status()).toMatchObject({ lost: 1, belowWantedCopies: 1, countedBy: 'reconcile' })
    await storage.close()
  })

  it('a nightly verify --subset that finds an evicted frame lost reaches status at once', async () => {
    const { storage, replica } = await pair()
    const { hash, sha256 } = await storage.store(testJpeg('lost at the subset', 12_000))
    await storage.drain()
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(await storage.evict({ olderThan: 0 })).toMatchObject({ evicted: 1 })
    await flip(replica.pathOf(hash)) // its only copy, damaged in place
    const index = Number.parseInt(sha256.slice(0, 4), 16) % 30
    expect((await storage.verify({ subset: { index, count: 30 } })).copies.lost).toBe(1)
    expect(storage.status()).toMatchObject({ lost: 1, countedBy: 'verify' })
    await storage.close()
  })
})

describe('whereis of a frame the copier found lost', () => {
  it('its primary copy there but damaged: DAMAGED, not a good copy', async () => {
    const { storage, primary } = await pair()
    const { hash } = await storage.store(testJpeg('whereis lost', 12_000))
    await flip(primary.pathOf(hash))
    const damagedAt = new Date(Date.now() - 120_000) // a minute and more ago: no writer still at it
    await utimes(primary.pathOf(hash), damagedAt, damagedAt)
    expect(await storage.drain()).toMatchObject({ gone: 1 })
    const [own] = (await storage.whereis(hash)).copies
    expect(own).toMatchObject({ name: 'primary', present: true, damagedAt: expect.any(Date) })
    await storage.close()
  })
})
