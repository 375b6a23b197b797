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

describe('replication state, under a power cut', () => {
  it("writes a verify's record durably: the temp fsynced before the rename, the folder after it", async () => {
    const { ops } = await record('scan-records', { work: join(work, 'records') })
    const made = find(ops, op => op.op === 'create' && op.name === 'verify.json.tmp')
    const renamed = find(ops, op => op.op === 'rename' && op.name === 'verify.json.tmp', made)
    const acked = find(ops, op => op.op === 'ack' && op.label!.startsWith('verify.'), renamed)
    expect(made, 'the record is written beside').toBeGreaterThan(0)
    expect(acked, 'the verify returns after the rename').toBeGreaterThan(renamed)
    const synced = find(ops, op => op.op === 'fsync' && op.ino === ops[made]!.ino, made)
    expect(synced, 'the temp fsynced before the rename').toBeGreaterThan(made)
    expect(synced).toBeLessThan(renamed)
    const folder = find(ops, op => op.op === 'fsyncdir' && op.ino === ops[made]!.dir, renamed)
    expect(folder, 'the folder fsynced after the rename, before the verify returns').toBeGreaterThan(renamed)
    expect(folder).toBeLessThan(acked)
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
