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

/** Every folder made before record `until`: its name fsynced in its parent (after the mkdir) before that record. */
function expectFoldersDurableBy(ops: Op[], until: number): void {
  const made = ops.slice(0, until).filter(op => op.op === 'mkdir')
  expect(made.length, 'folders are made before it').toBeGreaterThan(0)
  for (const folder of made) {
    const synced = find(ops, op => op.op === 'fsyncdir' && op.ino === folder.dir, ops.indexOf(folder))
    expect(synced, `the parent of ${folder.name} fsynced before record ${until}`).toBeGreaterThan(ops.indexOf(folder))
    expect(synced, `the parent of ${folder.name} fsynced before record ${until}`).toBeLessThan(until)
  }
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

  it("makes another writer's unsynced folders durable up to the root before a store in them resolves", async () => {
    // the other writer (plain mkdir and write) makes ab/cd and a frame; the library stores that frame, a frame
    // beside it and one in a new folder of ab: before each store resolves, every folder's name is fsynced
    const { ops } = await record('foreign-dirs', { work: join(work, 'foreign') })
    const acks = ops.flatMap((op, i) => (op.op === 'ack' ? [i] : []))
    expect(acks).toHaveLength(3)
    for (const acked of acks) expectFoldersDurableBy(ops, acked)
  })

  it("makes a misplaced frame's new folder durable before verify --repair unlinks its old name", async () => {
    const { ops } = await record('repair-misplaced', { work: join(work, 'misplaced') })
    const unlinked = find(ops, op => op.op === 'unlink' && /^[0-9a-f]{64}\.jpg$/.test(op.name ?? ''))
    expect(unlinked, 'the misplaced name is unlinked').toBeGreaterThan(0)
    expectFoldersDurableBy(ops, unlinked)
  })
})
