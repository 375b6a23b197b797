// The outbox (outbox.ts) on a real folder: one empty file per object and replica, made durable
// before `add` resolves, read back in SHA-256 order, removed once the copy is verified.
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { StateLayout } from '../../../src/features/replication/layout.js'
import { Outbox } from '../../../src/features/replication/outbox.js'
import { roundTrips } from '../../infra/helpers/round-trips.js'
import { tempDir } from '../../infra/helpers/tmp.js'
import { namesIn } from './helpers.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const C = 'c'.repeat(64)

async function outbox(): Promise<{ outbox: Outbox; state: string }> {
  const state = join(await tempDir('sai-outbox'), '.replication')
  return { outbox: new Outbox(new StateLayout(state)), state }
}

describe('Outbox', () => {
  it('add makes one empty file per replica; twice is one entry; pending is in SHA-256 order', async () => {
    const { outbox: box, state } = await outbox()
    await box.add(B, ['s3', 'ipfs'])
    await box.add(A, ['s3'])
    await box.add(B, ['s3'])
    expect(await namesIn(join(state, 'outbox'))).toEqual(['ipfs', 's3'])
    expect(await namesIn(join(state, 'outbox', 's3'))).toEqual([A, B])
    expect(box.pending('s3')).toEqual([A, B])
    expect(box.pending('ipfs')).toEqual([B])
    expect(box.pending('never')).toEqual([])
    expect([box.has('s3', A), box.has('ipfs', A), box.has('ipfs', B)]).toEqual([true, false, true])
  })

  it('pending passes over what is not an entry (a temp file, a stray name)', async () => {
    const { outbox: box, state } = await outbox()
    await box.add(C, ['s3'])
    await writeFile(join(state, 'outbox', 's3', `${A}.tmp`), '')
    await writeFile(join(state, 'outbox', 's3', 'notes'), '')
    await writeFile(join(state, 'outbox', 's3', A.toUpperCase()), '')
    expect(box.pending('s3')).toEqual([C])
    expect(box.backlog('s3').pending).toBe(1)
  })

  it('done removes the entry; an entry already gone is no error', async () => {
    const { outbox: box } = await outbox()
    await box.add(A, ['s3'])
    expect(await roundTrips(async () => await box.done('s3', A))).toBe(0) // one a copy: on the event loop
    await box.done('s3', A)
    await box.done('never', B)
    expect(box.pending('s3')).toEqual([])
    expect(box.has('s3', A)).toBe(false)
  })

  it('backlog counts the entries and dates the oldest', async () => {
    const { outbox: box, state } = await outbox()
    expect(box.backlog('s3')).toEqual({ pending: 0, oldestPendingAt: undefined })
    await box.add(A, ['s3'])
    await box.add(B, ['s3'])
    const old = new Date('2026-01-02T03:04:05Z')
    await utimes(join(state, 'outbox', 's3', B), old, old)
    expect(box.backlog('s3')).toEqual({ pending: 2, oldestPendingAt: old })
  })

  it('a replica folder removed under it (a bad restore) is made again by the next add', async () => {
    const { outbox: box, state } = await outbox()
    await box.add(A, ['s3'])
    await rm(join(state, 'outbox'), { recursive: true })
    await box.add(B, ['s3'])
    expect(box.pending('s3')).toEqual([B])
  })

  it("a folder that cannot be made is the caller's error, typed: the store does not resolve unrecorded", async () => {
    const parent = await tempDir('sai-outbox-file')
    await mkdir(join(parent, 'state'))
    await writeFile(join(parent, 'state', 'outbox'), 'a file where the folder goes')
    const box = new Outbox(new StateLayout(join(parent, 'state')))
    await expect(box.add(A, ['s3'])).rejects.toMatchObject({
      code: 'ERR_STORAGE_UNAVAILABLE',
      option: 'stateDir',
      message: expect.stringContaining(join(parent, 'state')),
      cause: { code: expect.stringMatching(/^E/) }
    })
    expect(box.has('s3', A)).toBe(false)
  })
})
