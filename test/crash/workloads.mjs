// The crash harness's workloads. Each has
//   setup (src, lib): the tree before the workload, made directly (not recorded);
//   run (mnt, lib, ack): the workload, in a child process, on the crashfs mount; `ack(label)` ties
//     each acknowledgement (a store resolved, a command returned) to the log;
//   check (dir, acks, lib): after a cut, the recovery an operator runs (open, verify --repair,
//     rerun the command) on the state in `dir`, and the invariants; returns the violations found.
// `lib` is the built package under test (its dist/), so that a broken copy can be tested too.
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
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
  },
  // a duplicate store that renews a frame while a prune by age, having chosen it, sets it aside:
  // the prune must put it back (set-aside.ts), durably
  'prune-race': {
    async setup (src, lib) {
      const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
      const { testJpeg } = lib.testing
      for (const seed of ['a', 'b', 'c']) old(storage, (await storage.store(testJpeg(`old-${seed}`, 7000))).sha256, 40)
    },
    async run (mnt, lib, ack) {
      const storage = new lib.FilesystemDriver({ root: join(mnt, 'store') })
      const { testJpeg } = lib.testing
      const renewing = sha256(testJpeg('old-b', 7000))
      await lib.prune(storage, {
        olderThan: 30 * DAY,
        minAgeMs: 0,
        concurrency: 1,
        onCandidate: async object => {
          if (object.sha256 !== renewing) return
          const at = Date.now()
          await storage.store(testJpeg('old-b', 7000))
          ack('renew', renewing, at)
        }
      })
      ack('prune')
    },
    async check (dir, acks, lib) {
      const violations = []
      const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
      await repairAndWalk(storage, [storage.root], violations)
      await checkRenewals(storage, acks, violations)
      await lib.prune(storage, { olderThan: 30 * DAY, minAgeMs: 0 })
      await fetchAll(storage, storesOf(acks).map(a => a.sha256), violations)
      return violations
    }
  },
  // replication: new frames and the duplicate of a frame stored before replication was set up
  // (its outbox record too), the copier, the reconcile (which compacts the ledger), an eviction
  replicated: {
    async setup (src, lib) {
      const { testJpeg } = lib.testing
      const primary = new lib.FilesystemDriver({ root: join(src, 'primary') })
      const replica = new lib.FilesystemDriver({ root: join(src, 'replica') })
      old(primary, (await primary.store(testJpeg('before-replication', 6000))).sha256, 40)
      const storage = lib.createReplicatedStorage({ primary, replicas: [{ name: 'r1', storage: replica }], background: false })
      const copied = await storage.store(testJpeg('replicated-old', 8000))
      await storage.drain()
      old(primary, copied.sha256, 40)
    },
    async run (mnt, lib, ack) {
      const { testJpeg } = lib.testing
      const storage = replicated(lib, mnt)
      const store = async bytes => {
        const at = Date.now()
        const result = await storage.store(bytes)
        ack('store', result.sha256, at)
      }
      await store(testJpeg('new-0', 6000))
      await Promise.all([store(testJpeg('new-1', 5000)), store(testJpeg('before-replication', 6000))])
      await storage.drain()
      ack('drain')
      await storage.reconcile()
      ack('reconcile')
      await storage.evict({ olderThan: 30 * DAY })
      ack('evict')
    },
    async check (dir, acks, lib) {
      const violations = []
      const storage = replicated(lib, dir)
      const stored = storesOf(acks).map(a => a.sha256)
      // invariant 3: an outbox record, or a verified replica copy, for every acknowledged frame
      for (const sha of stored) {
        const queued = statOrUndefined(join(dir, 'primary/.replication/outbox/r1', sha)) !== undefined
        const copied = await storage.replicas[0].storage.fetch(sha).then(() => true, () => false)
        if (!queued && !copied) violations.push(`acknowledged frame ${sha.slice(0, 12)} has neither an outbox record nor a replica copy`)
      }
      await repairAndWalk(storage, [join(dir, 'primary'), join(dir, 'replica')], violations)
      const all = [...stored, ...initialFrames(lib)]
      await fetchAll(storage, all, violations, 'kept')
      // the commands rerun: then every frame is on the replica, and still readable
      await storage.drain()
      await storage.reconcile()
      await storage.drain()
      await storage.evict({ olderThan: 30 * DAY })
      for (const sha of all) {
        if (!await storage.replicas[0].storage.exists(sha)) violations.push(`after drain, frame ${sha.slice(0, 12)} is not on the replica`)
      }
      await fetchAll(storage, all, violations, 'kept')
      return violations
    }
  },
  // verify --repair: a damaged primary copy quarantined and healed from the replica; then the
  // quarantine's entries restored and purged
  repair: {
    async setup (src, lib) {
      const { testJpeg } = lib.testing
      const primary = new lib.FilesystemDriver({ root: join(src, 'primary') })
      const replica = new lib.FilesystemDriver({ root: join(src, 'replica') })
      const storage = lib.createReplicatedStorage({ primary, replicas: [{ name: 'r1', storage: replica }], background: false })
      for (const seed of ['x', 'y']) await storage.store(testJpeg(seed, 6000))
      await storage.drain()
      const damaged = join(primary.root, primary.sharding.encode(sha256(testJpeg('x', 6000))))
      const bytes = readFileSync(damaged)
      bytes[100] ^= 0xff
      writeFileSync(damaged, bytes)
      // a frame only the primary has, under another frame's name: misnamed, its bytes are the only copy
      const only = testJpeg('only-here', 5000)
      const misnamed = join(primary.root, primary.sharding.encode(sha256(testJpeg('z', 6000))))
      mkdirSync(dirname(misnamed), { recursive: true })
      writeFileSync(misnamed, only)
    },
    async run (mnt, lib, ack) {
      const storage = replicated(lib, mnt)
      await storage.verify({ repair: true, tempMinAgeMs: 0 })
      ack('verify')
      const entries = []
      for await (const entry of storage.quarantine.list()) entries.push(entry)
      for (const entry of entries) {
        if (await storage.quarantine.restore(entry.id)) ack('restored')
        else if (await storage.quarantine.purge(entry.id)) ack('purged')
      }
      ack('quarantine')
    },
    async check (dir, acks, lib) {
      const violations = []
      const storage = replicated(lib, dir)
      const { testJpeg } = lib.testing
      const only = sha256(testJpeg('only-here', 5000))
      // nothing deleted unseen: the misnamed file's bytes are somewhere under the primary
      const holders = allFiles(join(dir, 'primary')).filter(path => sha256(readFileSync(path)) === only)
      if (holders.length === 0) violations.push(`the only copy of ${only.slice(0, 12)} (a misnamed file) is gone`)
      await repairAndWalk(storage, [join(dir, 'primary'), join(dir, 'replica')], violations)
      await fetchAll(storage, ['x', 'y'].map(seed => sha256(testJpeg(seed, 6000))), violations, 'kept')
      return violations
    }
  }
}

function replicated (lib, root) {
  const primary = new lib.FilesystemDriver({ root: join(root, 'primary'), createRoot: false })
  const replica = new lib.FilesystemDriver({ root: join(root, 'replica'), createRoot: false })
  return lib.createReplicatedStorage({ primary, replicas: [{ name: 'r1', storage: replica }], background: false })
}

function initialFrames (lib) {
  return ['before-replication', 'replicated-old'].map(seed => sha256(lib.testing.testJpeg(seed, seed === 'replicated-old' ? 8000 : 6000)))
}

function allFiles (dir) {
  const found = []
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) found.push(join(entry.parentPath ?? entry.path, entry.name))
  }
  return found
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
