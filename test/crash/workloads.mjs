// The crash harness's workloads. Each has
//   setup (src, lib): the tree before the workload, made directly (not recorded);
//   run (mnt, lib, ack): the workload, in a child process, on the crashfs mount; `ack(label)` ties
//     each acknowledgement (a store resolved, a command returned) to the log;
//   check (dir, acks, lib): after a cut, the recovery an operator runs (open, verify --repair,
//     rerun the command) on the state in `dir`, and the invariants; returns the violations found.
// `lib` is the built package under test (its dist/), so that a broken copy can be tested too.
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, utimesSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { sha256 } from './replay.mjs'

const DAY = 86_400_000
const CONTENT = /^([0-9a-f]{64})\.jpg$/

/** Every file under a content name outside the special folders: [{ sha256, path, intact }]. */
export function walkObjects (root) {
  const found = []
  const visit = dir => {
    let entries
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue // .tmp, .quarantine, .pruning, .replication, .variants
      const path = join(dir, entry.name)
      if (entry.isDirectory()) visit(path)
      const match = CONTENT.exec(entry.name)
      if (match !== null && entry.isFile()) found.push({ sha256: match[1], path, intact: sha256(readFileSync(path)) === match[1] })
    }
  }
  visit(root)
  return found
}

function storesOf (acks) {
  return acks.filter(a => a.kind === 'store' || a.kind === 'renew')
}

/** Invariant 2: after verify --repair, no file under a content name holds other bytes; what verify saw damaged, it reported. */
async function repairAndWalk (storage, roots, violations) {
  const before = roots.flatMap(root => walkObjects(root)).filter(o => !o.intact)
  const report = await storage.verify({ repair: true, tempMinAgeMs: 0 })
  for (const bad of before) {
    if (!report.problems.some(p => p.key.includes(bad.sha256) || p.path === bad.path)) violations.push(`damaged ${bad.path} not reported by verify`)
  }
  for (const bad of roots.flatMap(root => walkObjects(root)).filter(o => !o.intact)) violations.push(`after verify --repair, ${bad.path} holds bytes that do not hash to its name`)
  return report
}

/** Invariant 1: every acknowledged frame is fetched whole. */
async function fetchAll (storage, shas, violations, what = 'acknowledged') {
  for (const sha of shas) {
    try {
      const bytes = await storage.fetch(sha)
      if (sha256(bytes) !== sha) violations.push(`fetch of ${what} ${sha.slice(0, 12)} returned other bytes`)
    } catch (err) {
      violations.push(`${what} frame ${sha.slice(0, 12)} lost: fetch says ${err.code ?? err.message}`)
    }
  }
}

/** A renewed frame's age went back: a prune by age would delete a frame just stored. */
async function checkRenewals (storage, acks, violations) {
  for (const a of acks.filter(a => a.kind === 'renew')) {
    const stat = await storage.stat(a.sha256).catch(() => undefined)
    if (stat !== undefined && stat.lastStoredAt.getTime() < a.at - 2000) violations.push(`renewal of ${a.sha256.slice(0, 12)} lost: lastStoredAt ${stat.lastStoredAt.toISOString()} is before the acknowledged store at ${new Date(a.at).toISOString()}`)
  }
}

function old (storage, sha, days) {
  const seconds = (Date.now() - days * DAY) / 1000
  utimesSync(join(storage.root, storage.sharding.encode(sha)), seconds, seconds)
}

export const workloads = {
  // the recorder's own check (crash.test.ts): each kind of record it must see, in order
  probe: {
    hidden: true,
    async setup () {},
    async run (mnt, lib, ack) {
      mkdirSync(join(mnt, 'd'))
      const fd = openSync(join(mnt, 'd/f'), 'wx')
      writeSync(fd, Buffer.alloc(10, 1))
      fsyncSync(fd)
      closeSync(fd)
      const dir = openSync(join(mnt, 'd'), 'r')
      fsyncSync(dir)
      closeSync(dir)
      const dsync = openSync(join(mnt, 'd/g'), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_DSYNC)
      writeSync(dsync, 'durable')
      closeSync(dsync)
      ack('done')
    },
    async check () { return [] }
  },
  // new frames (one write with O_DSYNC, a stream through .tmp, two at once), and a duplicate store
  // that renews a 40-day-old frame; then a prune by age, as a service's nightly job would run it
  store: {
    async setup (src, lib) {
      const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
      const { testJpeg } = lib.testing
      old(storage, (await storage.store(testJpeg('old-a', 5000))).sha256, 40)
      old(storage, (await storage.store(testJpeg('old-b', 9000))).sha256, 40)
    },
    async run (mnt, lib, ack) {
      const storage = new lib.FilesystemDriver({ root: join(mnt, 'store') })
      const { testJpeg } = lib.testing
      const store = async (input, kind = 'store') => {
        const at = Date.now()
        const result = await storage.store(input)
        ack(kind, result.sha256, at)
      }
      await store(testJpeg('new-0', 6000))
      await store(Readable.from([testJpeg('new-1', 9000).subarray(0, 5000), testJpeg('new-1', 9000).subarray(5000)]))
      await store(testJpeg('old-a', 5000), 'renew')
      await Promise.all([store(testJpeg('new-2', 3000)), store(testJpeg('new-3', 12000))])
      await lib.prune(storage, { olderThan: 30 * DAY, minAgeMs: 0 })
      ack('prune')
    },
    async check (dir, acks, lib) {
      const violations = []
      const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
      await repairAndWalk(storage, [storage.root], violations)
      await checkRenewals(storage, acks, violations)
      // the nightly prune, rerun after the cut: it must keep every frame stored (or renewed) since
      await lib.prune(storage, { olderThan: 30 * DAY, minAgeMs: 0 })
      await fetchAll(storage, storesOf(acks).map(a => a.sha256), violations)
      return violations
    }
  }
}

/** Parses the ack records of a log: `<kind>.<sha256>.<ms>` or `<kind>`. */
export function parseAcks (ops) {
  return ops.filter(op => op.op === 'ack').map(op => {
    const [kind, sha, at] = op.label.split('.')
    return { kind, sha256: sha, at: at === undefined ? undefined : Number(at), seq: op.seq }
  })
}

export function statOrUndefined (path) {
  return statSync(path, { throwIfNoEntry: false })
}
