// Replication's state written so that a power cut keeps what a returned call reported: read from the log of a real
// run through crashfs (test/infra/crashfs), the crash harness's recorder (docs/durability.md).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { record, type LogRecord as Op } from '../../crash/harness.mjs'

const work = mkdtempSync(join(tmpdir(), 'sai-state-power-cut-'))
afterAll(() => {
  rmSync(work, { recursive: true, force: true })
})

function find(ops: Op[], match: (op: Op) => boolean, from = 0): number {
  for (let i = from; i < ops.length; i++) if (match(ops[i]!)) return i
  return -1
}

/** The file made at `made` fsynced before its rename at `renamed`; its folder fsynced after that, before `by`. */
function placedDurably(ops: Op[], made: number, renamed: number, by: number): void {
  const synced = find(ops, op => op.op === 'fsync' && op.ino === ops[made]!.ino, made)
  expect(synced, `${ops[made]!.name} fsynced before its rename`).toBeGreaterThan(made)
  expect(synced).toBeLessThan(renamed)
  const folder = find(ops, op => op.op === 'fsyncdir' && op.ino === ops[made]!.dir, renamed)
  expect(folder, `its folder fsynced after the rename, before what relies on it (op ${by})`).toBeGreaterThan(renamed)
  expect(folder).toBeLessThan(by)
}

describe('replication state, under a power cut', () => {
  it("writes a verify's record durably: the temp fsynced before the rename, the folder after it", async () => {
    const { ops } = await record('scan-records', { work: join(work, 'records') })
    const made = find(ops, op => op.op === 'create' && /^verify\.json\.\d+\.\d+\.tmp$/.test(op.name!))
    const renamed = find(ops, op => op.op === 'rename' && op.name === ops[made]!.name, made)
    const acked = find(ops, op => op.op === 'ack' && op.label!.startsWith('verify.'), renamed)
    expect(made, 'the record is written beside').toBeGreaterThan(0)
    expect(acked, 'the verify returns after the rename').toBeGreaterThan(renamed)
    placedDurably(ops, made, renamed, acked)
  })

  it("makes each heal's line in heals.log durable before the heal returns", async () => {
    const { ops } = await record('heal', { work: join(work, 'heal') })
    const made = find(ops, op => op.op === 'create' && op.name === 'heals.log')
    expect(made, 'heals.log is made').toBeGreaterThan(0)
    const log = ops[made]!
    const healed = ops.flatMap((op, i) => (op.op === 'ack' && op.label!.startsWith('healed.') ? [i] : []))
    expect(healed, 'two heals return').toHaveLength(2)
    const named = find(ops, op => op.op === 'fsyncdir' && op.ino === log.dir, made)
    expect(named, "heals.log's name fsynced before the first heal returns").toBeGreaterThan(made)
    expect(named).toBeLessThan(healed[0]!)
    let from = made
    for (const returned of healed) {
      const written = find(ops, op => op.op === 'write' && op.ino === log.ino, from)
      expect(written, 'the heal writes its line before it returns').toBeGreaterThan(from)
      expect(written).toBeLessThan(returned)
      const synced = find(ops, op => op.op === 'fsync' && op.ino === log.ino, written)
      expect(synced, 'the line fsynced').toBeGreaterThan(written)
      expect(synced, 'the line fsynced before the heal returns').toBeLessThan(returned)
      from = returned
    }
  })

  it('replaces a ledger file durably when a reconcile compacts it: the temp fsynced, renamed, the folder fsynced', async () => {
    const { ops } = await record('evict-compact', { work: join(work, 'compact') })
    const reconciled = find(ops, op => op.op === 'ack' && op.label === 'reconcile')
    const renames = ops
      .slice(0, reconciled)
      .filter(op => op.op === 'rename' && /^[0-9a-f]{2}\.log\..+\.tmp$/.test(op.name!))
    expect(renames.length, 'the reconcile rewrites ledger files').toBeGreaterThan(0)
    for (const renamed of renames) {
      const at = ops.indexOf(renamed)
      const made = find(ops, op => op.op === 'create' && op.ino === renamed.ino)
      const synced = find(ops, op => op.op === 'fsync' && op.ino === renamed.ino, made)
      expect(synced, `${renamed.name} fsynced`).toBeGreaterThan(made)
      expect(synced, `${renamed.name} fsynced before its rename`).toBeLessThan(at)
      const folder = find(ops, op => op.op === 'fsyncdir' && op.ino === renamed.to, at)
      expect(folder, `the folder of ${renamed.newName} fsynced after the rename`).toBeGreaterThan(at)
      expect(folder, 'before the reconcile returns').toBeLessThan(reconciled)
    }
  })

  it("writes a reconcile's below-copies list (reconcile-below) durably, before the record that counts it", async () => {
    const { ops } = await record('evict-compact', { work: join(work, 'below') })
    const reconciled = find(ops, op => op.op === 'ack' && op.label === 'reconcile')
    const made = find(ops, op => op.op === 'create' && /^reconcile-below\..+\.tmp$/.test(op.name!))
    expect(made, 'the list is written beside').toBeGreaterThan(0)
    const renamed = find(ops, op => op.op === 'rename' && op.name === ops[made]!.name, made)
    const record_ = find(ops, op => op.op === 'rename' && /^reconcile\.json\.\d+\.\d+\.tmp$/.test(op.name!), made)
    expect(renamed, 'the list is put in place').toBeGreaterThan(made)
    expect(record_, 'before reconcile.json').toBeGreaterThan(renamed)
    expect(reconciled, 'the reconcile returns after both').toBeGreaterThan(record_)
    placedDurably(ops, made, renamed, record_)
  })

  it("makes a delete's gone records durable: the primary's before any copy goes, the replica's before it returns", async () => {
    const { ops } = await record('delete-forget', { work: join(work, 'delete') })
    const returned = find(ops, op => op.op === 'ack' && op.label!.startsWith('delete.'))
    expect(returned, 'the delete returns').toBeGreaterThan(0)
    const sha = ops[returned]!.label!.split('.')[1]!
    const gone = ops.filter(
      op => op.op === 'write' && new RegExp(`^${sha} \\d+ gone$`, 'm').test(op.bytes!.toString('utf8'))
    )
    expect(gone, "the primary's gone record, then the replica's").toHaveLength(2)
    const removed = find(ops, op => op.op === 'unlink' && op.name === `${sha}.jpg`)
    expect(removed, 'a copy is removed').toBeGreaterThan(0)
    for (const [record, by, what] of [
      [gone[0]!, removed, 'before any copy is removed'],
      [gone[1]!, returned, 'before the delete returns']
    ] as const) {
      const written = ops.indexOf(record)
      expect(written, `a gone record written ${what}`).toBeLessThan(by)
      const synced = find(ops, op => op.op === 'fsync' && op.ino === record.ino, written)
      expect(synced, 'and fsynced').toBeGreaterThan(written)
      expect(synced, `and fsynced ${what}`).toBeLessThan(by)
    }
  })

  it("makes a new state folder's names durable before its host-id is made", async () => {
    const { ops } = await record('host-id', { work: join(work, 'host-id') })
    const linked = find(ops, op => op.op === 'link' && op.name === 'host-id')
    expect(linked, 'host-id is made').toBeGreaterThan(0)
    const folders = ops.slice(0, linked).filter(op => op.op === 'mkdir')
    expect(folders.map(op => op.name)).toEqual(['state', 'primary'])
    for (const folder of folders) {
      const synced = find(ops, op => op.op === 'fsyncdir' && op.ino === folder.dir, ops.indexOf(folder))
      expect(synced, `the parent of ${folder.name} fsynced`).toBeGreaterThan(ops.indexOf(folder))
      expect(synced, `the parent of ${folder.name} fsynced`).toBeLessThan(linked)
    }
  })
})
