// The filesystem driver's changes that a power cut could undo, each made durable before the step that
// relies on it: read from the log of a real run through crashfs (test/infra/crashfs), the crash
// harness's recorder. Each was a bug the crash harness found (docs/durability.md).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { record, type LogRecord as Op } from '../../crash/harness.mjs'

const work = mkdtempSync(join(tmpdir(), 'sai-power-cut-'))
afterAll(() => {
  rmSync(work, { recursive: true, force: true })
})

/** The index of the first record at or after `from` that `match` accepts, else -1. */
function find(ops: Op[], match: (op: Op) => boolean, from = 0): number {
  for (let i = from; i < ops.length; i++) if (match(ops[i]!)) return i
  return -1
}

/** A folder made in the workload: its name must be fsynced (its parent's fsyncdir) before anything moves into it. */
function expectDurableBeforeUse(ops: Op[], name: string): void {
  const made = find(ops, op => op.op === 'mkdir' && op.name === name)
  expect(made, `${name} is made in the workload`).toBeGreaterThanOrEqual(0)
  const folder = ops[made]!
  const used = find(ops, op => op.op === 'rename' && op.to === folder.ino, made)
  expect(used, `an object moves into ${name}`).toBeGreaterThan(made)
  const synced = find(ops, op => op.op === 'fsyncdir' && op.ino === folder.dir, made)
  expect(synced, `the parent of ${name} is fsynced before the first move into it`).toBeGreaterThan(made)
  expect(synced).toBeLessThan(used)
}

describe('filesystem driver, under a power cut', () => {
  it("makes a duplicate store's renewal (the new mtime) durable before the store resolves", async () => {
    const { ops } = await record('store', { work: join(work, 'store') })
    const renewed = find(ops, op => op.op === 'setattr' && op.mtime !== undefined)
    expect(renewed).toBeGreaterThanOrEqual(0)
    const acked = find(ops, op => op.op === 'ack' && op.label!.startsWith('renew.'), renewed)
    const synced = find(ops, op => op.op === 'fsync' && op.ino === ops[renewed]!.ino, renewed)
    expect(synced).toBeGreaterThan(renewed)
    expect(synced).toBeLessThan(acked)
  })

  it("makes the prune's .pruning folder durable before it sets an object aside there", async () => {
    const { ops } = await record('prune-race', { work: join(work, 'prune') })
    expectDurableBeforeUse(ops, '.pruning')
  })

  it('makes the .quarantine folder durable before it moves an object there', async () => {
    const { ops } = await record('repair', { work: join(work, 'repair') })
    expectDurableBeforeUse(ops, '.quarantine')
  })
})
