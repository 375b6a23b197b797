// The crash harness's workloads. Each has
//   setup (src, lib): the tree before the workload, made directly (not recorded);
//   run (mnt, lib, ack): the workload, in a child process, on the crashfs mount; `ack(label)` ties
//     each acknowledgement (a store resolved, a command returned) to the log;
//   check (dir, acks, lib): after a cut, the recovery an operator runs (open, verify --repair,
//     rerun the command) on the state in `dir`, and the invariants; returns the violations found;
//   endState (optional, invariant 4): { roots, begun(acks) }: once `begun` says the cut came after the command's own
//     inputs were acknowledged, the recovery must leave the folders `roots` as it leaves the uncut run's (endState()).
// `lib` is the built package under test (its dist/), so that a broken copy can be tested too.
import {
  appendFileSync,
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync
} from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { open } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { spawn } from 'node:child_process'
import { sha256 } from './replay.mjs'

const DAY = 86_400_000
const CONTENT = /^([0-9a-f]{64})\.jpg$/

/** Every file under a content name outside the special folders: [{ sha256, path, intact }]. */
export function walkObjects(root) {
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
      if (match !== null && entry.isFile())
        found.push({ sha256: match[1], path, intact: sha256(readFileSync(path)) === match[1] })
    }
  }
  visit(root)
  return found
}

/**
 * Invariant 4's end state of the folders `roots` of `dir`: each file under a content name (where it is, and whether
 * its bytes hash to its name), each quarantine entry (the name it claimed, the hash of its bytes), and how many files
 * are left in the folders for writes under way and frames set aside by a prune; sorted.
 */
export function endState(dir, roots) {
  const lines = []
  for (const root of roots) {
    for (const o of walkObjects(join(dir, root))) lines.push(`${relative(dir, o.path)}${o.intact ? '' : ' (damaged)'}`)
    for (const leftovers of ['.tmp', '.pruning']) {
      const count =
        statOrUndefined(join(dir, root, leftovers)) === undefined ? 0 : allFiles(join(dir, root, leftovers)).length
      if (count > 0) lines.push(`${root}/${leftovers}: ${count} files left`)
    }
    const quarantine = join(dir, root, '.quarantine')
    if (statOrUndefined(quarantine) === undefined) continue
    for (const path of allFiles(quarantine)) {
      const claimed = /^([0-9a-f]{64})\.\d+\./.exec(path.slice(path.lastIndexOf('/') + 1))
      if (claimed !== null) lines.push(`${root} quarantine: ${claimed[1]} holding ${sha256(readFileSync(path))}`)
    }
  }
  return lines.sort()
}

function storesOf(acks) {
  return acks.filter(a => a.kind === 'store' || a.kind === 'renew')
}

/**
 * Invariant 2: after verify --repair, no file under a content name holds other bytes; what verify saw damaged, it
 * reported.
 */
async function repairAndWalk(storage, roots, violations) {
  const before = roots.flatMap(root => walkObjects(root)).filter(o => !o.intact)
  const report = await storage.verify({ repair: true, tempMinAgeMs: 0 })
  for (const bad of before) {
    if (!report.problems.some(p => p.key.includes(bad.sha256) || p.path === bad.path))
      violations.push(`damaged ${bad.path} not reported by verify`)
  }
  for (const bad of roots.flatMap(root => walkObjects(root)).filter(o => !o.intact))
    violations.push(`after verify --repair, ${bad.path} holds bytes that do not hash to its name`)
  return report
}

/** Invariant 1: every acknowledged frame is fetched whole. */
async function fetchAll(storage, shas, violations, what = 'acknowledged') {
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
async function checkRenewals(storage, acks, violations) {
  for (const a of acks.filter(a => a.kind === 'renew')) {
    const stat = await storage.stat(a.sha256).catch(() => undefined)
    if (stat !== undefined && stat.lastStoredAt.getTime() < a.at - 2000)
      violations.push(
        `renewal of ${a.sha256.slice(0, 12)} lost: lastStoredAt ${stat.lastStoredAt.toISOString()} is before the acknowledged store at ${new Date(a.at).toISOString()}`
      )
  }
}

/** A heal that returned is reported: its line in heals.log (what `status` counts) survives the cut. */
function healReported(dir, sha, violations) {
  const log = join(dir, 'primary/.replication/heals.log')
  if (!(statOrUndefined(log) === undefined ? '' : readFileSync(log, 'utf8')).includes(` ${sha} `))
    violations.push(`the heal of ${sha.slice(0, 12)}, returned before the cut, is not in heals.log`)
}

function old(storage, sha, days) {
  const seconds = (Date.now() - days * DAY) / 1000
  utimesSync(join(storage.root, storage.sharding.encode(sha)), seconds, seconds)
}

export const workloads = {
  // the recorder's own check (crash.test.ts): each kind of record it must see, in order
  probe: {
    hidden: true,
    async setup() {},
    async run(mnt, _lib, ack) {
      mkdirSync(join(mnt, 'd'))
      const fd = openSync(join(mnt, 'd/f'), 'wx')
      writeSync(fd, Buffer.alloc(10, 1))
      fsyncSync(fd)
      closeSync(fd)
      const dir = openSync(join(mnt, 'd'), 'r')
      fsyncSync(dir)
      closeSync(dir)
      const dsync = openSync(
        join(mnt, 'd/g'),
        constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_DSYNC
      )
      writeSync(dsync, 'durable')
      closeSync(dsync)
      ack('done')
    },
    async check() {
      return []
    }
  },
  // new frames (one write with O_DSYNC, a stream through .tmp, two at once), and a duplicate store
  // that renews a 40-day-old frame; then a prune by age, as a service's nightly job would run it
  store: {
    async setup(src, lib) {
      const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
      const { testJpeg } = lib.testing
      old(storage, (await storage.store(testJpeg('old-a', 5000))).sha256, 40)
      old(storage, (await storage.store(testJpeg('old-b', 9000))).sha256, 40)
    },
    async run(mnt, lib, ack) {
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
    async check(dir, acks, lib) {
      const violations = []
      const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
      await repairAndWalk(storage, [storage.root], violations)
      await checkRenewals(storage, acks, violations)
      // the nightly prune, rerun after the cut: it must keep every frame stored (or renewed) since
      await lib.prune(storage, { olderThan: 30 * DAY, minAgeMs: 0 })
      await fetchAll(
        storage,
        storesOf(acks).map(a => a.sha256),
        violations
      )
      return violations
    },
    // the prune rerun after the cut ends where the uncut prune did, once every store before it was acknowledged
    endState: { roots: ['store'], begun: acks => storesOf(acks).length === 5 }
  },
  // a duplicate store that renews a frame while a prune by age, having chosen it, sets it aside:
  // the prune must put it back (set-aside.ts), durably
  'prune-race': {
    async setup(src, lib) {
      const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
      const { testJpeg } = lib.testing
      for (const seed of ['a', 'b', 'c']) old(storage, (await storage.store(testJpeg(`old-${seed}`, 7000))).sha256, 40)
    },
    async run(mnt, lib, ack) {
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
    async check(dir, acks, lib) {
      const violations = []
      const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
      await repairAndWalk(storage, [storage.root], violations)
      await checkRenewals(storage, acks, violations)
      await lib.prune(storage, { olderThan: 30 * DAY, minAgeMs: 0 })
      await fetchAll(
        storage,
        storesOf(acks).map(a => a.sha256),
        violations
      )
      return violations
    },
    endState: { roots: ['store'], begun: acks => acks.some(a => a.kind === 'renew') }
  },
  // a store of a frame whose file is damaged (a flipped byte, a truncation): the store replaces the file, renamed
  // over it from a durable temp (write.ts `linkIntoPlace`), and acknowledges the whole frame
  'store-over': {
    async setup(src, lib) {
      const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
      const { testJpeg } = lib.testing
      const flipped = await storage.store(testJpeg('over-flipped', 8000))
      const bytes = readFileSync(flipped.path)
      bytes[4000] ^= 1
      writeFileSync(flipped.path, bytes)
      const truncated = await storage.store(testJpeg('over-truncated', 9000))
      writeFileSync(truncated.path, readFileSync(truncated.path).subarray(0, 3000))
    },
    async run(mnt, lib, ack) {
      const storage = new lib.FilesystemDriver({ root: join(mnt, 'store') })
      const { testJpeg } = lib.testing
      for (const [seed, size] of [
        ['over-flipped', 8000],
        ['over-truncated', 9000]
      ]) {
        const at = Date.now()
        const result = await storage.store(testJpeg(seed, size))
        ack('store', result.sha256, at)
      }
    },
    async check(dir, acks, lib) {
      const violations = []
      const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
      await repairAndWalk(storage, [storage.root], violations)
      await fetchAll(
        storage,
        storesOf(acks).map(a => a.sha256),
        violations
      )
      return violations
    }
  },
  // replication: new frames and the duplicate of a frame stored before replication was set up
  // (its outbox record too), the copier, the reconcile (which compacts the ledger), an eviction
  replicated: {
    async setup(src, lib) {
      const { testJpeg } = lib.testing
      const primary = new lib.FilesystemDriver({ root: join(src, 'primary') })
      const replica = new lib.FilesystemDriver({ root: join(src, 'replica') })
      old(primary, (await primary.store(testJpeg('before-replication', 6000))).sha256, 40)
      const storage = lib.createReplicatedStorage({
        primary,
        replicas: [{ name: 'r1', storage: replica }],
        background: false
      })
      const copied = await storage.store(testJpeg('replicated-old', 8000))
      await storage.drain()
      old(primary, copied.sha256, 40)
    },
    async run(mnt, lib, ack) {
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
    async check(dir, acks, lib) {
      const violations = []
      const storage = replicated(lib, dir)
      const stored = storesOf(acks).map(a => a.sha256)
      // invariant 3: an outbox record, or a verified replica copy, for every acknowledged frame
      for (const sha of stored) {
        const queued = statOrUndefined(join(dir, 'primary/.replication/outbox/r1', sha)) !== undefined
        const copied = await storage.replicas[0].storage.fetch(sha).then(
          () => true,
          () => false
        )
        if (!queued && !copied)
          violations.push(`acknowledged frame ${sha.slice(0, 12)} has neither an outbox record nor a replica copy`)
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
        if (!(await storage.replicas[0].storage.exists(sha)))
          violations.push(`after drain, frame ${sha.slice(0, 12)} is not on the replica`)
      }
      await fetchAll(storage, all, violations, 'kept')
      return violations
    },
    endState: { roots: ['primary', 'replica'], begun: acks => storesOf(acks).length === 3 }
  },
  // eviction marks through a ledger compaction: an eviction, a reconcile that rewrites the mark's ledger file (a
  // record of a frame no copy holds is dropped), then an eviction into a new ledger file (its folder fsynced, which
  // makes the rewrite's rename durable: its data must be too). An evicted frame whose replica copy is then lost must
  // be reported lost, never clean.
  'evict-compact': {
    async setup(src, lib) {
      const { primary, storage } = evictPair(lib, src)
      const [a, c] = evictFrames(lib)
      for (const bytes of [a, c]) old(primary, (await storage.store(bytes)).sha256, 40)
      await storage.drain()
      // a record of a frame no copy holds, in the first frame's ledger file: the reconcile drops it and rewrites it
      const ledger = join(src, 'primary/.replication/ledger/primary')
      mkdirSync(ledger, { recursive: true })
      const gone = sha256(a).slice(0, 2) + 'e'.repeat(62)
      writeFileSync(join(ledger, `${gone.slice(0, 2)}.log`), `${gone} ${Date.now() - 40 * DAY} restored\n`)
      old(primary, sha256(c), 1) // the second frame is evicted only later, once the run ages it
    },
    async run(mnt, lib, ack) {
      const { primary, storage } = evictPair(lib, mnt, false)
      const [a, c] = evictFrames(lib).map(bytes => sha256(bytes))
      const first = await storage.evict({ olderThan: 30 * DAY })
      if (first.evicted === 1) ack('evict', a, Date.now())
      await storage.reconcile()
      ack('reconcile')
      old(primary, c, 40)
      const second = await storage.evict({ olderThan: 30 * DAY })
      if (second.evicted === 1) ack('evict', c, Date.now())
    },
    async check(dir, acks, lib) {
      const violations = []
      const { primary, replica, storage } = evictPair(lib, dir, false)
      const evicted = acks.filter(a => a.kind === 'evict').map(a => a.sha256)
      // the replica's copies of the evicted frames lost: each such frame is lost, and verify must say so
      for (const sha of evicted) {
        if (await primary.exists(sha)) continue
        rmSync(join(replica.root, replica.sharding.encode(sha)), { force: true })
      }
      const gone = []
      for (const sha of evicted) if (!(await primary.exists(sha))) gone.push(sha)
      const report = await storage.verify()
      if (gone.length > 0 && (report.clean || report.copies.lost < gone.length))
        violations.push(
          `${gone.length} evicted frame(s) lost with their replica copy, verify says clean=${report.clean} ` +
            `lost=${report.copies.lost}: an eviction mark did not survive`
        )
      return violations
    }
  },
  // verify --repair: a damaged primary copy quarantined and healed from the replica; then the
  // quarantine's entries restored and purged
  repair: {
    async setup(src, lib) {
      const { testJpeg } = lib.testing
      const primary = new lib.FilesystemDriver({ root: join(src, 'primary') })
      const replica = new lib.FilesystemDriver({ root: join(src, 'replica') })
      const storage = lib.createReplicatedStorage({
        primary,
        replicas: [{ name: 'r1', storage: replica }],
        background: false
      })
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
    async run(mnt, lib, ack) {
      const storage = replicated(lib, mnt)
      await storage.verify({ repair: true, tempMinAgeMs: 0 })
      ack('verify')
      await settleQuarantine(storage, ack)
      ack('quarantine')
    },
    async check(dir, acks, lib) {
      const violations = []
      const storage = replicated(lib, dir)
      const { testJpeg } = lib.testing
      if (acks.some(a => a.kind === 'verify')) healReported(dir, sha256(testJpeg('x', 6000)), violations)
      const only = sha256(testJpeg('only-here', 5000))
      // nothing deleted unseen: the misnamed file's bytes are somewhere under the primary
      const holders = allFiles(join(dir, 'primary')).filter(path => sha256(readFileSync(path)) === only)
      if (holders.length === 0) violations.push(`the only copy of ${only.slice(0, 12)} (a misnamed file) is gone`)
      await repairAndWalk(storage, [join(dir, 'primary'), join(dir, 'replica')], violations)
      await settleQuarantine(storage) // the rest of the command, rerun
      await fetchAll(
        storage,
        ['x', 'y'].map(seed => sha256(testJpeg(seed, 6000))),
        violations,
        'kept'
      )
      return violations
    },
    endState: { roots: ['primary', 'replica'], begun: () => true }
  }
}

/** The repair's second step: each quarantine entry restored, or purged where the frame was healed meanwhile. */
async function settleQuarantine(storage, ack = () => {}) {
  const entries = []
  for await (const entry of storage.quarantine.list()) entries.push(entry)
  for (const entry of entries) {
    // a restore refuses bytes that do not match their name (ERR_INTEGRITY): those stay
    const restored = await storage.quarantine.restore(entry.id).catch(err => {
      if (err.code !== 'ERR_INTEGRITY') throw err
    })
    if (restored === true) ack('restored')
    else if (restored === false && (await storage.quarantine.purge(entry.id))) ack('purged') // healed meanwhile
  }
}

// import with its mapping and checkpoint (invariant 5: a mapping line or checkpoint claims only
// frames that are durably stored), resumed after the cut
workloads.import = {
  async setup(src, lib) {
    for (let i = 0; i < 6; i++) {
      const path = join(src, 'photos', i % 2 === 0 ? 'a' : 'b', `f${i}.jpg`)
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, lib.testing.testJpeg(`import-${i}`, 4000 + 1000 * i))
    }
  },
  async run(mnt, lib, ack) {
    const storage = new lib.FilesystemDriver({ root: join(mnt, 'store') })
    await lib.importTree(storage, join(mnt, 'photos'), { mapping: join(mnt, 'map.jsonl'), concurrency: 2, minAgeMs: 0 })
    ack('import')
  },
  async check(dir, acks, lib) {
    const violations = []
    const storage = new lib.FilesystemDriver({ root: join(dir, 'store') })
    await repairAndWalk(storage, [storage.root], violations)
    const sources = new Map(
      allFiles(join(dir, 'photos')).map(path => [
        path.slice(join(dir, 'photos').length + 1),
        sha256(readFileSync(path))
      ])
    )
    const lines = (
      statOrUndefined(join(dir, 'map.jsonl')) === undefined ? '' : readFileSync(join(dir, 'map.jsonl'), 'utf8')
    ).split('\n')
    const claimed = []
    for (const line of lines) {
      let entry
      try {
        entry = JSON.parse(line)
      } catch {
        continue
      } // a torn line: dropped on reopening
      if (typeof entry.sha256 === 'string') claimed.push(entry.sha256)
      if (typeof entry.checkpoint === 'string')
        for (const [source, sha] of sources) if (source <= entry.checkpoint) claimed.push(sha)
    }
    await fetchAll(storage, [...new Set(claimed)], violations, 'mapped')
    if (acks.some(a => a.kind === 'import')) await fetchAll(storage, [...sources.values()], violations, 'imported')
    // resumed: then every source frame is stored
    await lib.importTree(storage, join(dir, 'photos'), { mapping: join(dir, 'map.jsonl'), minAgeMs: 0 })
    await fetchAll(storage, [...sources.values()], violations, 'imported after the resume')
    return violations
  },
  endState: { roots: ['store'], begun: () => true }
}

// two processes storing the same new frames at once, in opposite orders: each acknowledges its own
workloads.race = {
  async setup(src) {
    mkdirSync(join(src, 'store'))
  }, // the mounted array, there before the service
  async run(mnt, lib, ack) {
    const seeds = ['race-0', 'race-1', 'race-2', 'race-3']
    const other = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
      const { statSync } = await import('node:fs')
      const { loadLib } = await import(${JSON.stringify(new URL('./lib.mjs', import.meta.url).href)})
      const lib = await loadLib(${JSON.stringify(process.env.CRASH_PACKAGE)})
      const { testJpeg } = lib.testing
      const storage = new lib.FilesystemDriver({ root: ${JSON.stringify(join(mnt, 'store'))} })
      for (const seed of ${JSON.stringify(seeds)}.reverse()) {
        const at = Date.now()
        const { sha256 } = await storage.store(testJpeg(seed, 9000))
        try { statSync(${JSON.stringify(join(mnt, '.crashfs-ack-'))} + ['store', sha256, at].join('.')) } catch {}
      }`
      ],
      { stdio: 'inherit' }
    )
    const done = new Promise((resolve, reject) =>
      other.on('exit', code => (code === 0 ? resolve() : reject(new Error(`the other writer failed (${code})`))))
    )
    const storage = new lib.FilesystemDriver({ root: join(mnt, 'store') })
    for (const seed of seeds) {
      const at = Date.now()
      ack('store', (await storage.store(lib.testing.testJpeg(seed, 9000))).sha256, at)
    }
    await done
  },
  check: storesKept
}

// the variant cache (no fsync by default: an entry checks itself on every read)
workloads.variants = {
  async setup(src, lib) {
    const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
    for (const seed of ['v-0', 'v-1']) await storage.store(lib.testing.testJpeg(seed, 5000))
  },
  async run(mnt, lib, ack) {
    const storage = new lib.FilesystemDriver({ root: join(mnt, 'store') })
    const variants = lib.createVariants(storage)
    for (const seed of ['v-0', 'v-1']) {
      const sha = sha256(lib.testing.testJpeg(seed, 5000))
      await variants.get(sha, 'thumb')
      ack('variant', sha, Date.now())
    }
    await variants.close()
  },
  async check(dir, _acks, lib) {
    const violations = []
    const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
    const variants = lib.createVariants(storage)
    const fresh = lib.createVariants(storage, { path: join(dir, 'fresh-variants') })
    for (const seed of ['v-0', 'v-1']) {
      const sha = sha256(lib.testing.testJpeg(seed, 5000))
      const served = await variants.get(sha, 'thumb')
      const made = await fresh.get(sha, 'thumb')
      if (!served.bytes.equals(made.bytes))
        violations.push(
          `the cached thumb of ${sha.slice(0, 12)} differs from a fresh one (${served.cached ? 'from the cache' : 'made'})`
        )
    }
    await variants.close()
    await fresh.close()
    return violations
  }
}

// a prune by budget (its spill file is a temp outside the store): new frames stored, then the
// oldest deleted down to the budget; rerun after the cut, it keeps the new frames and ends at the
// budget, and a second rerun deletes nothing
const BUDGET = 30_000
workloads.budget = {
  async setup(src, lib) {
    const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
    for (let i = 0; i < 6; i++)
      old(storage, (await storage.store(lib.testing.testJpeg(`aged-${i}`, 6000))).sha256, 10 + i)
  },
  async run(mnt, lib, ack) {
    const storage = new lib.FilesystemDriver({ root: join(mnt, 'store') })
    for (let i = 0; i < 2; i++) {
      const at = Date.now()
      ack('store', (await storage.store(lib.testing.testJpeg(`fresh-${i}`, 5000))).sha256, at)
    }
    await lib.prune(storage, { budgetBytes: BUDGET, minAgeMs: 0 })
    ack('prune')
  },
  async check(dir, acks, lib) {
    const violations = []
    const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
    await repairAndWalk(storage, [storage.root], violations)
    await lib.prune(storage, { budgetBytes: BUDGET, minAgeMs: 0 })
    await fetchAll(
      storage,
      storesOf(acks).map(a => a.sha256),
      violations
    )
    let total = 0
    for await (const entry of storage.list()) total += entry.size
    if (total > BUDGET)
      violations.push(`after the prune was rerun the store holds ${total} bytes, over the budget of ${BUDGET}`)
    const again = await lib.prune(storage, { budgetBytes: BUDGET, minAgeMs: 0 })
    if (again.deleted !== 0) violations.push(`a second rerun of the prune deleted ${again.deleted} more`)
    return violations
  },
  endState: { roots: ['store'], begun: acks => storesOf(acks).length === 2 }
}

// heal-on-fetch: a primary copy lost, another damaged; each fetch heals it from the replica
workloads.heal = {
  async setup(src, lib) {
    const primary = new lib.FilesystemDriver({ root: join(src, 'primary') })
    const replica = new lib.FilesystemDriver({ root: join(src, 'replica') })
    const storage = lib.createReplicatedStorage({
      primary,
      replicas: [{ name: 'r1', storage: replica }],
      background: false
    })
    const [lost, damaged] = [
      await storage.store(lib.testing.testJpeg('h-0', 6000)),
      await storage.store(lib.testing.testJpeg('h-1', 7000))
    ]
    await storage.drain()
    rmSync(join(primary.root, primary.sharding.encode(lost.sha256)))
    const path = join(primary.root, primary.sharding.encode(damaged.sha256))
    const bytes = readFileSync(path)
    bytes[200] ^= 0xff
    writeFileSync(path, bytes)
  },
  async run(mnt, lib, ack) {
    const storage = replicated(lib, mnt)
    for (const [seed, size] of [
      ['h-0', 6000],
      ['h-1', 7000]
    ]) {
      const sha = sha256(lib.testing.testJpeg(seed, size))
      await storage.fetch(sha)
      ack('healed', sha)
    }
  },
  async check(dir, acks, lib) {
    const violations = []
    const storage = replicated(lib, dir)
    // a fetch that returned healed the primary copy durably first
    for (const a of acks.filter(a => a.kind === 'healed')) {
      const ok = await storage.primary.fetch(a.sha256).then(
        bytes => sha256(bytes) === a.sha256,
        () => false
      )
      if (!ok) violations.push(`the primary copy of ${a.sha256.slice(0, 12)}, healed before the cut, is not whole`)
      healReported(dir, a.sha256, violations)
    }
    await repairAndWalk(storage, [join(dir, 'primary'), join(dir, 'replica')], violations)
    await fetchAll(
      storage,
      [
        ['h-0', 6000],
        ['h-1', 7000]
      ].map(([seed, size]) => sha256(lib.testing.testJpeg(seed, size))),
      violations,
      'kept'
    )
    return violations
  },
  endState: { roots: ['primary', 'replica'], begun: () => true }
}

// migrate between two stores with its mapping and checkpoint (cursor: the SHA-256), resumed after the cut
workloads.migrate = {
  async setup(src, lib) {
    const from = new lib.FilesystemDriver({ root: join(src, 'old') })
    for (let i = 0; i < 5; i++) await from.store(lib.testing.testJpeg(`m-${i}`, 4000 + 500 * i))
  },
  async run(mnt, lib, ack) {
    const from = new lib.FilesystemDriver({ root: join(mnt, 'old') })
    const to = new lib.FilesystemDriver({ root: join(mnt, 'new') })
    await lib.migrate(from, to, { mapping: join(mnt, 'migrate.jsonl'), concurrency: 2 })
    ack('migrate')
  },
  async check(dir, acks, lib) {
    const violations = []
    const from = new lib.FilesystemDriver({ root: join(dir, 'old'), createRoot: false })
    const to = new lib.FilesystemDriver({ root: join(dir, 'new') })
    await repairAndWalk(to, [to.root], violations)
    const all = []
    for await (const entry of from.list()) all.push(entry.sha256)
    const text =
      statOrUndefined(join(dir, 'migrate.jsonl')) === undefined ? '' : readFileSync(join(dir, 'migrate.jsonl'), 'utf8')
    const claimed = []
    for (const line of text.split('\n')) {
      let entry
      try {
        entry = JSON.parse(line)
      } catch {
        continue
      } // a torn line: dropped on reopening
      if (typeof entry.sha256 === 'string') claimed.push(entry.sha256)
      if (typeof entry.checkpoint === 'string') claimed.push(...all.filter(sha => sha <= entry.checkpoint))
    }
    await fetchAll(to, [...new Set(claimed)], violations, 'mapped')
    if (acks.some(a => a.kind === 'migrate')) await fetchAll(to, all, violations, 'migrated')
    await lib.migrate(from, to, { mapping: join(dir, 'migrate.jsonl') })
    await fetchAll(to, all, violations, 'migrated after the resume')
    return violations
  },
  endState: { roots: ['old', 'new'], begun: () => true }
}

function replicated(lib, root) {
  const primary = new lib.FilesystemDriver({ root: join(root, 'primary'), createRoot: false })
  const replica = new lib.FilesystemDriver({ root: join(root, 'replica'), createRoot: false })
  return lib.createReplicatedStorage({ primary, replicas: [{ name: 'r1', storage: replica }], background: false })
}

function evictPair(lib, root, createRoot = true) {
  const primary = new lib.FilesystemDriver({ root: join(root, 'primary'), createRoot })
  const replica = new lib.FilesystemDriver({ root: join(root, 'replica'), createRoot })
  const storage = lib.createReplicatedStorage({
    primary,
    replicas: [{ name: 'r1', storage: replica }],
    background: false
  })
  return { primary, replica, storage }
}

/** Two frames whose hashes differ in their first two hex digits: their ledger records are in different files. */
function evictFrames(lib) {
  const a = lib.testing.testJpeg('evict-a', 6000)
  for (let i = 0; ; i++) {
    const c = lib.testing.testJpeg(`evict-c-${i}`, 6000)
    if (sha256(c).slice(0, 2) !== sha256(a).slice(0, 2)) return [a, c]
  }
}

function initialFrames(lib) {
  return ['before-replication', 'replicated-old'].map(seed =>
    sha256(lib.testing.testJpeg(seed, seed === 'replicated-old' ? 8000 : 6000))
  )
}

function allFiles(dir) {
  const found = []
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) found.push(join(entry.parentPath ?? entry.path, entry.name))
  }
  return found
}

/** Parses the ack records of a log: `<kind>.<sha256>.<ms>` or `<kind>`. */
export function parseAcks(ops) {
  return ops
    .filter(op => op.op === 'ack')
    .map(op => {
      const [kind, sha, at] = op.label.split('.')
      return { kind, sha256: sha, at: at === undefined ? undefined : Number(at), seq: op.seq }
    })
}

export function statOrUndefined(path) {
  return statSync(path, { throwIfNoEntry: false })
}

// eviction marks a ledger file could lose (review 7). `evict-torn-ledger`: the primary's ledger file ends in a line
// a power cut tore (a `restored` record, not fsynced), then an eviction marks a frame of that file: the mark must be
// a line of its own. `evict-mid-compaction`: an eviction marks a frame while a reconcile compacts the mark's file,
// between its read and its rename: the mark must survive a cut wherever it falls. In both, an evicted frame whose
// replica copy is then lost must be reported lost.
workloads['evict-torn-ledger'] = {
  async setup(src, lib) {
    const sha = await evictSetup(lib, src)
    appendFileSync(ledgerFileOf(src, sha), `${sha.slice(0, 2)}${'d'.repeat(62)} 17`)
  },
  async run(mnt, lib, ack) {
    const { storage } = evictPair(lib, mnt, false)
    const report = await storage.evict({ olderThan: 30 * DAY })
    if (report.evicted === 1) ack('evict', sha256(evictFrames(lib)[0]), Date.now())
  },
  check: evictedLossReported
}

workloads['evict-mid-compaction'] = {
  async setup(src, lib) {
    const sha = await evictSetup(lib, src)
    appendFileSync(ledgerFileOf(src, sha), `${sha.slice(0, 2)}${'e'.repeat(62)} ${Date.now() - 40 * DAY} restored\n`)
  },
  async run(mnt, lib, ack) {
    const { storage } = evictPair(lib, mnt, false)
    const sha = sha256(evictFrames(lib)[0])
    const file = ledgerFileOf(mnt, sha)
    let evicting
    // the compaction has read the file (the record above makes it rewrite it): the eviction runs now
    const restore = await afterFirstRead(file, async () => {
      evicting = storage.evict({ olderThan: 30 * DAY }).then(report => {
        if (report.evicted === 1) ack('evict', sha, Date.now())
      })
      let settled = false
      evicting.then(() => (settled = true))
      while (!settled && !readFileSync(file, 'utf8').includes(`${sha} `)) await new Promise(r => setTimeout(r, 10))
      await Promise.race([evicting, new Promise(r => setTimeout(r, 2000))]) // it returns, or waits for the compaction
    })
    try {
      await storage.reconcile()
    } finally {
      restore()
    }
    await evicting
    ack('reconcile')
  },
  check: evictedLossReported
}

// `evict-new-ledger-file`: the eviction's mark goes into a primary ledger file that this run made (the plain record
// of the frame's first store): its name is durable only once its folder is fsynced, so the durable mark must see to
// it before the frame goes.
workloads['evict-new-ledger-file'] = {
  async setup(src, lib) {
    const { storage } = evictPair(lib, src)
    await storage.store(evictFrames(lib)[1]) // the state and ledger folders made; the run's frame in another file
    await storage.drain()
    await storage.close()
  },
  async run(mnt, lib, ack) {
    const { primary, storage } = evictPair(lib, mnt, false)
    const { sha256: sha } = await storage.store(evictFrames(lib)[0])
    await storage.drain()
    old(primary, sha, 40)
    const report = await storage.evict({ olderThan: 30 * DAY })
    if (report.evicted === 1) ack('evict', sha, Date.now())
    await storage.close()
  },
  async check(dir, acks, lib) {
    const violations = []
    const { primary, storage } = evictPair(lib, dir, false)
    for (const { sha256: sha } of acks.filter(a => a.kind === 'evict')) {
      if (await primary.exists(sha)) continue
      const [own] = (await storage.whereis(sha)).copies
      if (own?.evictedAt === undefined)
        violations.push(`${sha} evicted and acknowledged, but its eviction mark is gone`)
    }
    await storage.close()
    return [...violations, ...(await evictedLossReported(dir, acks, lib))]
  }
}

// `verify-damaged-copy`: a verify of a subset reads a replica copy back and finds it damaged (a flipped byte, the size
// kept: no listing sees it); once it returned, the damage must be known after a cut (the record is all that says so
// until that subset is read again, a month later with `--subset $((day % 30))/30`).
workloads['verify-damaged-copy'] = {
  async setup(src, lib) {
    const { replica, storage } = evictPair(lib, src)
    const { sha256: sha } = await storage.store(evictFrames(lib)[0])
    await storage.drain()
    await storage.close()
    const path = join(replica.root, replica.sharding.encode(sha))
    const bytes = readFileSync(path)
    bytes[bytes.length >> 1] ^= 0x20
    writeFileSync(path, bytes)
  },
  async run(mnt, lib, ack) {
    const { storage } = evictPair(lib, mnt, false)
    const report = await storage.verify({ subset: { index: 0, count: 1 } })
    if (report.copies.belowWanted === 1) ack('damaged', sha256(evictFrames(lib)[0]))
    await storage.close()
  },
  async check(dir, acks, lib) {
    const violations = []
    const { storage } = evictPair(lib, dir, false)
    for (const { sha256: sha } of acks.filter(a => a.kind === 'damaged')) {
      const copy = (await storage.whereis(sha)).copies[1]
      if (copy?.damagedAt === undefined) violations.push(`${sha}: a verify found its replica copy damaged, now unknown`)
    }
    await storage.close()
    return violations
  }
}

// `evict-unsynced-replica`: an old frame copied to a replica that stores without fsync (`fsync: false`, as
// SAI_IMAGE_STORAGE_FSYNC=false gives both), then evicted from the primary at once. The copy is the proof that lets
// the primary's copy go: after any cut, the frame must still be whole on one side.
workloads['evict-unsynced-replica'] = {
  async setup(src, lib) {
    const primary = new lib.FilesystemDriver({ root: join(src, 'primary') })
    old(primary, (await primary.store(evictFrames(lib)[0])).sha256, 40)
    mkdirSync(join(src, 'replica'))
  },
  async run(mnt, lib, ack) {
    const storage = unsyncedPair(lib, mnt)
    await storage.reconcile()
    await storage.drain()
    const report = await storage.evict({ olderThan: 30 * DAY })
    if (report.evicted === 1) ack('evict', sha256(evictFrames(lib)[0]), Date.now())
    await storage.close()
  },
  async check(dir, acks, lib) {
    const sha = sha256(evictFrames(lib)[0])
    const whole = ['primary', 'replica'].flatMap(side => walkObjects(join(dir, side)))
    if (whole.some(o => o.sha256 === sha && o.intact)) return []
    const evicted = acks.some(a => a.kind === 'evict')
    return [`frame ${sha.slice(0, 12)} stored before the run is whole on neither side (evict acknowledged: ${evicted})`]
  }
}

// `ack2-unsynced-replica`: `ack: 2` with a replica that stores without fsync. The acknowledgement promises a second
// copy that survives a power cut (the primary's disk may go with it): after the ack, the replica's copy is whole.
workloads['ack2-unsynced-replica'] = {
  async setup(src) {
    for (const side of ['primary', 'replica']) mkdirSync(join(src, side))
  },
  async run(mnt, lib, ack) {
    const primary = new lib.FilesystemDriver({ root: join(mnt, 'primary'), createRoot: false })
    const replica = new lib.FilesystemDriver({ root: join(mnt, 'replica'), createRoot: false, fsync: false })
    const replicas = [{ name: 'r1', storage: replica }]
    const storage = lib.createReplicatedStorage({ primary, replicas, ack: 2, background: false })
    const { sha256: sha } = await storage.store(evictFrames(lib)[0])
    ack('ack2', sha, Date.now())
    await storage.close()
  },
  async check(dir, acks, lib) {
    const sha = sha256(evictFrames(lib)[0])
    if (!acks.some(a => a.kind === 'ack2')) return []
    if (walkObjects(join(dir, 'replica')).some(o => o.sha256 === sha && o.intact)) return []
    return [`frame ${sha.slice(0, 12)} acknowledged with ack: 2 is not whole on the replica after the cut`]
  }
}

function unsyncedPair(lib, root) {
  const primary = new lib.FilesystemDriver({ root: join(root, 'primary'), createRoot: false })
  const replica = new lib.FilesystemDriver({ root: join(root, 'replica'), createRoot: false, fsync: false })
  return lib.createReplicatedStorage({ primary, replicas: [{ name: 'r1', storage: replica }], background: false })
}

/** A frame on the primary and the replica, 40 days old, about to be evicted; its ledger folder made. */
async function evictSetup(lib, src) {
  const { primary, storage } = evictPair(lib, src)
  const sha = (await storage.store(evictFrames(lib)[0])).sha256
  await storage.drain()
  await storage.close()
  old(primary, sha, 40)
  mkdirSync(dirname(ledgerFileOf(src, sha)), { recursive: true })
  return sha
}

function ledgerFileOf(root, sha) {
  return join(root, 'primary/.replication/ledger/primary', `${sha.slice(0, 2)}.log`)
}

/** Each read of `path` whole through a FileHandle (a ledger compaction's) runs `during` once before it returns. */
async function afterFirstRead(path, during) {
  const probe = await open(path, 'r')
  const proto = Object.getPrototypeOf(probe)
  await probe.close()
  const original = proto.readFile
  const real = realpathSync(path)
  let armed = true
  proto.readFile = async function (...args) {
    const bytes = await original.apply(this, args)
    if (armed && readlinkSync(`/proc/self/fd/${this.fd}`) === real) {
      armed = false
      await during()
    }
    return bytes
  }
  return () => {
    proto.readFile = original
  }
}

/** After a cut: the reconcile rerun, then each evicted frame's replica copy lost; verify must count each lost. */
async function evictedLossReported(dir, acks, lib) {
  const violations = []
  const { primary, replica, storage } = evictPair(lib, dir, false)
  await storage.reconcile()
  const gone = []
  for (const sha of acks.filter(a => a.kind === 'evict').map(a => a.sha256)) {
    if (await primary.exists(sha)) continue
    rmSync(join(replica.root, replica.sharding.encode(sha)), { force: true })
    gone.push(sha)
  }
  const report = await storage.verify()
  if (gone.length > 0 && (report.clean || report.copies.lost < gone.length))
    violations.push(
      `${gone.length} evicted frame(s) lost with their replica copy, verify says clean=${report.clean} ` +
        `lost=${report.copies.lost}: an eviction mark did not survive`
    )
  await storage.close()
  return violations
}

// Workloads below: fs durability gaps (review7, finding 3 and the misplaced move). Kept at the end of the file.

/** A frame in `x`'s shard folder (`same` 4 hex digits), or in another folder of its `ab` (`same` 2). */
const siblings = new Map()
function sibling(lib, x, same) {
  const fits = sha => sha.slice(0, same) === x.slice(0, same) && (same === 4 || sha.slice(2, 4) !== x.slice(2, 4))
  for (let i = 0; !siblings.has(`${x}:${same}`); i++) {
    const bytes = lib.testing.testJpeg(`sibling-${i}`, 5000) // a few thousand tries: about a second
    if (fits(sha256(bytes))) siblings.set(`${x}:${same}`, bytes)
  }
  return siblings.get(`${x}:${same}`)
}

/** The frames of `foreign-dirs`: one another writer puts, one beside it, one in a new folder of its `ab`. */
function foreignFrames(lib) {
  const x = lib.testing.testJpeg('foreign-x', 5000)
  return { x, beside: sibling(lib, sha256(x), 4), cousin: sibling(lib, sha256(x), 2) }
}

// another writer (the Python service: plain mkdir and write, never an fsync) makes `ab/cd/` and a frame in it; then
// the library stores that frame (a duplicate), one beside it, and one in a new folder of the same `ab`. Each is
// acknowledged: the folders' names must be made durable first (review7, finding 3)
workloads['foreign-dirs'] = {
  async setup(src, lib) {
    const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
    await storage.store(lib.testing.testJpeg('foreign-before', 4000)) // the store in use, its root durable
  },
  async run(mnt, lib, ack) {
    const { x, beside, cousin } = foreignFrames(lib)
    const storage = new lib.FilesystemDriver({ root: join(mnt, 'store') })
    const path = join(storage.root, storage.sharding.encode(sha256(x)))
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, x)
    for (const bytes of [x, beside, cousin]) {
      const at = Date.now()
      ack('store', (await storage.store(bytes)).sha256, at)
    }
  },
  check: storesKept
}

// verify --repair moving a misplaced frame (intact, under its own name in another shard folder) into place: its
// only copy. Its new folder's name must be durable before the old name's removal is
workloads['repair-misplaced'] = {
  async setup(src, lib) {
    const storage = new lib.FilesystemDriver({ root: join(src, 'store') })
    await storage.store(lib.testing.testJpeg('misplaced-neighbour', 4000))
    const bytes = lib.testing.testJpeg('misplaced', 5000)
    const wrong = join(storage.root, misplacedFolder(sha256(bytes)), `${sha256(bytes)}.jpg`)
    mkdirSync(dirname(wrong), { recursive: true })
    writeFileSync(wrong, bytes)
  },
  async run(mnt, lib, ack) {
    const storage = new lib.FilesystemDriver({ root: join(mnt, 'store'), createRoot: false })
    const report = await storage.verify({ repair: true, tempMinAgeMs: 0 })
    if (report.problems.some(p => p.reason === 'misplaced' && p.action === 'moved')) ack('moved')
  },
  async check(dir, acks, lib) {
    const violations = []
    const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
    const sha = sha256(lib.testing.testJpeg('misplaced', 5000))
    const holders = allFiles(storage.root).filter(path => sha256(readFileSync(path)) === sha)
    if (holders.length === 0) violations.push(`the only copy of ${sha.slice(0, 12)} (a misplaced frame) is gone`)
    await repairAndWalk(storage, [storage.root], violations)
    await fetchAll(storage, [sha], violations, acks.some(a => a.kind === 'moved') ? 'moved' : 'misplaced')
    return violations
  },
  endState: { roots: ['store'], begun: () => true }
}

/** A shard folder other than the frame's: `ff/ff`, or `00/00` for a frame of `ff`. */
function misplacedFolder(sha) {
  return sha.startsWith('ff') ? '00/00' : 'ff/ff'
}

// a scan's record (verify.json) after a cut: before the run, a frame evicted from the primary, a reconcile (its
// record: lost 0), then the frame's replica copy lost; the run's verify counts it lost. Once the verify returned,
// `status` must not fall back to the reconcile's count and say clean; and the recovery's verify leaves no spill file
// (verify-*.tmp) of the cut one behind
workloads['scan-records'] = {
  async setup(src, lib) {
    const { primary, replica, storage } = evictPair(lib, src)
    const lost = await storage.store(lib.testing.testJpeg('record-lost', 5000))
    await storage.store(lib.testing.testJpeg('record-kept', 5000))
    await storage.drain()
    old(primary, lost.sha256, 40)
    await storage.evict({ olderThan: 30 * DAY })
    await storage.reconcile() // reconcile.json: lost 0
    rmSync(join(replica.root, replica.sharding.encode(lost.sha256)))
  },
  async run(mnt, lib, ack) {
    const { storage } = evictPair(lib, mnt, false)
    const report = await storage.verify()
    ack('verify', String(report.copies.lost)) // (the count in the hash's place)
  },
  async check(dir, acks, lib) {
    const violations = []
    const { storage } = evictPair(lib, dir, false)
    const said = acks.find(a => a.kind === 'verify')
    const { lost } = storage.status()
    if (said !== undefined && lost !== Number(said.sha256))
      violations.push(`the verify that returned said lost ${said.sha256}; status after the cut says lost ${lost}`)
    await storage.verify()
    const state = join(dir, 'primary/.replication')
    const spills = readdirSync(state).filter(name => /^verify-.*\.tmp$/.test(name))
    if (spills.length > 0) violations.push(`after a verify, spill files of the cut one remain: ${spills.join(', ')}`)
    return violations
  }
}

// a primary's identity (host-id) made in a new state folder: once made, a cut must not lose it (a primary that
// forgot its identity is refused by the replicas it owns)
workloads['host-id'] = {
  async setup(src, lib) {
    evictPair(lib, src) // (the stores' roots; nothing written yet)
  },
  async run(mnt, lib, ack) {
    const { me } = await lib.replicaOwners(hostIdStorage(lib, mnt))
    ack('identity', me.id)
  },
  async check(dir, acks, lib) {
    const violations = []
    const said = acks.find(a => a.kind === 'identity')
    if (said === undefined) return violations
    const { me } = await lib.replicaOwners(hostIdStorage(lib, dir))
    if (me.id !== said.sha256) violations.push(`the identity ${said.sha256} was made, and after the cut it is ${me.id}`)
    return violations
  }
}

function hostIdStorage(lib, root) {
  const { primary, replica } = evictPair(lib, root)
  const stateDir = join(root, 'state/primary')
  return lib.createReplicatedStorage({
    primary,
    replicas: [{ name: 'r1', storage: replica }],
    stateDir,
    background: false
  })
}

/** After a cut: the store at `{dir}/store` repairs and walks clean, and every acknowledged store fetches whole. */
async function storesKept(dir, acks, lib) {
  const violations = []
  const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), createRoot: false })
  await repairAndWalk(storage, [storage.root], violations)
  await fetchAll(storage, [...new Set(storesOf(acks).map(a => a.sha256))], violations)
  return violations
}

// a delete through the replicated store, then a reconcile (its compaction drops the deleted frame's ledger
// records): after a cut anywhere in it, no frame counts as lost. The ledger's records of a frame's replica copy are
// how a frame that every copy lost is still reported (ledger.ts `known`), so a delete's own records must be as
// durable as the deletes: else a deleted frame comes back from a power cut as a lost one. An acknowledged delete is
// durable on every copy, and the other frame stays whole.
workloads['delete-forget'] = {
  async setup(src, lib) {
    const { storage } = evictPair(lib, src)
    for (const bytes of evictFrames(lib)) await storage.store(bytes)
    await storage.drain()
    await storage.reconcile()
  },
  async run(mnt, lib, ack) {
    const { storage } = evictPair(lib, mnt, false)
    const [a] = evictFrames(lib).map(bytes => sha256(bytes))
    if (await storage.delete(a)) ack('delete', a, Date.now())
    await storage.reconcile()
    ack('reconcile')
  },
  async check(dir, acks, lib) {
    const violations = []
    const { primary, replica, storage } = evictPair(lib, dir, false)
    const [a, c] = evictFrames(lib).map(bytes => sha256(bytes))
    if (acks.some(x => x.kind === 'delete'))
      for (const [name, copy] of [
        ['primary', primary],
        ['replica', replica]
      ])
        if (await copy.exists(a)) violations.push(`the acknowledged delete of ${a.slice(0, 12)} left its ${name} copy`)
    const report = await storage.verify()
    if (report.copies.lost > 0)
      violations.push(`verify says ${report.copies.lost} lost after a delete through the store (a deleted frame?)`)
    await fetchAll(storage, [c], violations, 'kept')
    return violations
  }
}

// verify --repair --checkpoint F, cut anywhere, then the recovery an operator runs: the same command with --resume.
// The checkpoint (not fsynced: a lost one costs time) must never let the resumed pass skip a damaged object that a
// cut put back in place (invariant 5); a pass that returned left no damaged object in place (invariant 2).
const CHECKPOINTED = { objects: 1500, damaged: 6 }

function checkpointCli(dir, lib, args) {
  const cli = join(lib.packageDir, 'dist/cli.js')
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [cli, 'verify', '--repair', '--checkpoint', join(dir, 'verify.ckpt'), ...args],
      {
        env: { ...process.env, SAI_IMAGE_STORAGE_PATH: join(dir, 'store') },
        stdio: ['ignore', 'ignore', 'inherit']
      }
    )
    child.on('error', reject).on('exit', code => resolve(code))
  })
}

workloads['verify-checkpoint'] = {
  async setup(src, lib) {
    const root = join(src, 'store')
    const layout = new lib.FilesystemDriver({ root })
    await layout.store(lib.testing.testJpeg('checkpoint 0', 2000)) // the store's root and layout record, as made
    for (let i = 1; i < CHECKPOINTED.objects; i++) {
      const bytes = lib.testing.testJpeg(`checkpoint ${i}`, 2000)
      const path = layout.pathOf(sha256(bytes))
      mkdirSync(dirname(path), { recursive: true })
      if (i % 250 === 125) bytes[bytes.length >> 1] ^= 1 // bit rot: 6 of them, spread over the pass
      writeFileSync(path, bytes)
    }
  },
  async run(mnt, lib, ack) {
    // slow enough that the checkpoint is saved (at most once a second) before the pass ends
    const code = await checkpointCli(mnt, lib, ['--concurrency', '1'])
    if (code !== 1) throw new Error(`verify --repair exited ${code}, not 1 (frames quarantined)`)
    ack('verify')
  },
  async check(dir, acks, lib) {
    const violations = []
    const store = join(dir, 'store')
    if (acks.some(a => a.kind === 'verify'))
      for (const bad of walkObjects(store).filter(o => !o.intact))
        violations.push(`verify --repair returned, and ${bad.path} still holds bytes that do not hash to its name`)
    // the state is rebuilt in another folder than the mount: the checkpoint names the store at the mount's path,
    // and the same store at its own path is what an operator resumes (a torn or empty checkpoint is left as it is)
    const checkpoint = join(dir, 'verify.ckpt')
    try {
      const saved = JSON.parse(readFileSync(checkpoint, 'utf8'))
      writeFileSync(checkpoint, JSON.stringify({ ...saved, store: store }))
    } catch {}
    const code = await checkpointCli(dir, lib, ['--resume'])
    if (code !== 0 && code !== 1) violations.push(`verify --repair --resume exited ${code}`)
    for (const bad of walkObjects(store).filter(o => !o.intact))
      violations.push(`after verify --repair --resume, ${bad.path} holds bytes that do not hash to its name`)
    const intact = walkObjects(store).filter(o => o.intact).length
    if (intact !== CHECKPOINTED.objects - CHECKPOINTED.damaged)
      violations.push(`${intact} intact objects after the repair, not ${CHECKPOINTED.objects - CHECKPOINTED.damaged}`)
    return violations
  },
  endState: { roots: ['store'], begun: () => true }
}

// A loss the reconcile reported must stay reported: frame A, gone from both copies before the run, is known by its
// replica's ledger record alone. The run deletes frame D of the same shard through the store (so the reconcile
// compacts that replica ledger file), reconciles, then deletes frame E of another shard (a durable append in the same
// replica ledger folder: its fsync makes the compacted file's rename durable). A compacted file whose rename
// survived a cut and whose data did not would clear the loss (invariant 4).
function lostKeptFrames(lib) {
  const frames = Array.from({ length: 64 }, (_, i) => lib.testing.testJpeg(`lost-kept ${i}`, 3000))
  const shard = bytes => sha256(bytes).slice(0, 2)
  for (const [i, a] of frames.entries()) {
    const d = frames.slice(i + 1).find(f => shard(f) === shard(a))
    const e = frames.find(f => shard(f) !== shard(a))
    if (d !== undefined && e !== undefined) return { a, d, e }
  }
  throw new Error('no two of 64 frames share a shard')
}

workloads['lost-kept'] = {
  async setup(src, lib) {
    const { storage, primary, replica } = evictPair(lib, src)
    const { a, d, e } = lostKeptFrames(lib)
    for (const bytes of [a, d, e]) await storage.store(bytes)
    await storage.drain()
    await storage.reconcile()
    for (const copy of [primary, replica]) rmSync(copy.pathOf(sha256(a))) // lost, by hand, from both copies
    const report = await storage.reconcile()
    if (report.lost !== 1) throw new Error(`the setup's reconcile counted ${report.lost} lost, not 1`)
  },
  async run(mnt, lib, ack) {
    const { storage } = evictPair(lib, mnt, false)
    const { d, e } = lostKeptFrames(lib)
    await storage.delete(sha256(d))
    await storage.reconcile()
    ack('reconcile')
    await storage.delete(sha256(e))
    ack('delete')
  },
  async check(dir, _acks, lib) {
    const violations = []
    const { storage } = evictPair(lib, dir, false)
    const report = await storage.verify()
    if (report.copies.lost < 1)
      violations.push(`frame ${sha256(lostKeptFrames(lib).a).slice(0, 12)} lost before the run is no longer reported`)
    return violations
  }
}

// A store without fsync (`fsync: false`: frames may be lost to a power cut) must still be usable after one: its
// first store records the layout, and a record torn by the cut would refuse every later call with ERR_CONFIG.
workloads['layout-unsynced'] = {
  async setup() {},
  async run(mnt, lib, ack) {
    const storage = new lib.FilesystemDriver({ root: join(mnt, 'store'), fsync: false })
    await storage.store(lib.testing.testJpeg('layout 0', 3000))
    ack('store')
  },
  async check(dir, _acks, lib) {
    const storage = new lib.FilesystemDriver({ root: join(dir, 'store'), fsync: false })
    try {
      await storage.store(lib.testing.testJpeg('after the cut', 3000))
      return []
    } catch (err) {
      return [`the store cannot be used after the cut: ${err.code}: ${err.message}`]
    }
  }
}

// a replicated prune by age: each old frame's primary `gone` mark, its primary copy's delete, its replica copy's,
// the replica's mark. A cut between the two deletes leaves the replica's copy: the passes after the cut (two
// reconciles, the first compacting the ledger) must not count it as the store's. A read must not heal the deleted
// frame back to the primary (where it would be young again, out of the prune's reach), and the prune's rerun
// must delete it everywhere. New frames, and the young one, are kept
workloads['prune-replicated'] = {
  async setup(src, lib) {
    const { primary, replica, storage } = evictPair(lib, src)
    for (const [seed, size] of PRUNED) await storage.store(lib.testing.testJpeg(seed, size))
    await storage.store(lib.testing.testJpeg('prune-young', 5000))
    await storage.drain()
    // copied as they were stored (the copier's drain follows a store within seconds): both copies 40 days old
    for (const [seed, size] of PRUNED)
      for (const copy of [primary, replica]) old(copy, sha256(lib.testing.testJpeg(seed, size)), 40)
  },
  async run(mnt, lib, ack) {
    const { storage } = evictPair(lib, mnt, false)
    const at = Date.now()
    ack('store', (await storage.store(lib.testing.testJpeg('prune-new', 4000))).sha256, at)
    await lib.prune(storage, { olderThan: 30 * DAY, minAgeMs: 0, concurrency: 1 })
    ack('prune')
  },
  async check(dir, acks, lib) {
    const violations = []
    const { primary, replica, storage } = evictPair(lib, dir, false)
    await repairAndWalk(storage, [primary.root, replica.root], violations)
    const pruned = PRUNED.map(([seed, size]) => sha256(lib.testing.testJpeg(seed, size)))
    const deleted = pruned.filter(
      sha => statOrUndefined(join(primary.root, primary.sharding.encode(sha))) === undefined
    )
    for (let pass = 0; pass < 2; pass++) {
      const report = await storage.reconcile()
      if (report.lost > 0) violations.push(`reconcile pass ${pass + 1} after the cut counts ${report.lost} lost`)
    }
    for (const sha of deleted) {
      await storage.fetch(sha).catch(() => undefined)
      if (statOrUndefined(join(primary.root, primary.sharding.encode(sha))) !== undefined)
        violations.push(`a read healed ${sha.slice(0, 12)}, whose prune had deleted its primary copy, back`)
    }
    await lib.prune(storage, { olderThan: 30 * DAY, minAgeMs: 0 })
    for (const sha of pruned)
      for (const copy of [primary, replica])
        if (statOrUndefined(join(copy.root, copy.sharding.encode(sha))) !== undefined)
          violations.push(`${sha.slice(0, 12)} is still on ${copy === primary ? 'the primary' : 'the replica'}`)
    const young = sha256(lib.testing.testJpeg('prune-young', 5000))
    await fetchAll(storage, [young, ...storesOf(acks).map(a => a.sha256)], violations)
    const report = await storage.reconcile()
    if (report.lost > 0) violations.push(`the reconcile after the prune's rerun counts ${report.lost} lost`)
    return violations
  },
  endState: { roots: ['primary', 'replica'], begun: acks => storesOf(acks).length > 0 }
}

const PRUNED = [
  ['prune-old-a', 6000],
  ['prune-old-b', 7000]
]
