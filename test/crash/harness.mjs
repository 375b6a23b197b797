// The crash harness: records a workload once through crashfs, then builds the states a power cut
// may leave at each cut point (replay.mjs), runs the recovery on each and checks the invariants
// (workloads.mjs). See docs/durability.md.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureCrashfs } from '../infra/crashfs/install.mjs'
import { loadLib } from './lib.mjs'
import { crashState, cutPoints, differences, materialize, random, readLog, snapshot } from './replay.mjs'
import { parseAcks, workloads } from './workloads.mjs'

const HERE = new URL('.', import.meta.url).pathname
export const REPO = join(HERE, '../..')
/** The package the workloads run: this checkout's build, or another's (as the CLI's tests take it). */
export const PACKAGE = process.env.PACKAGE_UNDER_TEST || REPO

/** Fails, saying what to install, where FUSE cannot mount: never a silent skip. */
export function requireFuse() {
  if (!existsSync('/dev/fuse'))
    throw new Error(
      'the crash tests need FUSE: /dev/fuse is missing (load the fuse module: `modprobe fuse`; in a container, run it with --device /dev/fuse --cap-add SYS_ADMIN)'
    )
  if (process.getuid?.() !== 0) {
    try {
      execFileSync('fusermount3', ['-V'], { stdio: 'ignore' })
    } catch {
      throw new Error(
        'the crash tests mount crashfs with FUSE: run them as root, or install fuse3 (`apt-get install fuse3`) for fusermount3'
      )
    }
  }
}

/** Mounts crashfs over `src` at `mnt`, recording to `log`; resolves with a stop function once mounted. */
async function mount(binary, src, mnt, log) {
  const child = spawn(binary, [src, mnt, log], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', chunk => {
    stderr += chunk
  })
  const exited = new Promise(resolve => child.on('exit', resolve))
  await new Promise((resolve, reject) => {
    child.stdout.on('data', chunk => {
      if (String(chunk).includes('ready')) resolve()
    })
    exited.then(code =>
      reject(
        new Error(
          `crashfs exited (${code}) before mounting: ${stderr.trim()} (FUSE mounts need root, or fuse3's fusermount3: apt-get install fuse3)`
        )
      )
    )
  })
  return async () => {
    child.kill('SIGTERM')
    const timer = setTimeout(() => {
      try {
        execFileSync('umount', ['-l', mnt])
      } catch {}
    }, 5000)
    await exited
    clearTimeout(timer)
  }
}

/** Runs work.mjs (`args`) on the mount, killed after `killAfterMs` if given. */
async function runChild(name, args, killAfterMs) {
  await new Promise((resolve, reject) => {
    // a process group of its own: a power cut stops every process of the workload at once (the race
    // workload's second writer went on writing after its parent's SIGKILL, into a folder being removed)
    const child = spawn(process.execPath, [join(HERE, 'work.mjs'), ...args], {
      stdio: ['ignore', 'inherit', 'pipe'],
      detached: true
    })
    let stderr = ''
    child.stderr.on('data', chunk => {
      stderr += chunk
    })
    const cut = () => {
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {} // the group is gone already
    }
    const timer = killAfterMs === undefined ? undefined : setTimeout(cut, killAfterMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0 || (signal === 'SIGKILL' && killAfterMs !== undefined)) resolve()
      else reject(new Error(`workload ${name} failed (${code ?? signal}): ${stderr}`))
    })
  })
}

/**
 * Invariant 6: the recovery itself cut. The recovery (the workload's check: verify --repair and the
 * reruns) runs through crashfs on the crash state `state`; then at seeded cut points of that run
 * (`states` of them), the state it leaves is recovered again and checked, with the acknowledgements `acks`.
 */
export async function checkRecoveryCuts(name, state, acks, { pkg = PACKAGE, work, seed = 1, states = 20 }) {
  const binary = ensureCrashfs()
  const src = join(work, 'rsrc')
  const mnt = join(work, 'rmnt')
  mkdirSync(work, { recursive: true })
  materialize(state, src)
  mkdirSync(mnt, { recursive: true })
  const initial = snapshot(src)
  const acksFile = join(work, 'acks.json')
  writeFileSync(acksFile, JSON.stringify(acks))
  const stop = await mount(binary, src, mnt, join(work, 'rlog'))
  try {
    await runChild(name, ['--recover', name, mnt, pkg, acksFile])
  } finally {
    await stop()
  }
  const ops = readLog(join(work, 'rlog'))
  const lib = await loadLib(pkg)
  const rnd = random(seed)
  const cuts = cutPoints(ops)
  const violations = []
  let checked = 0
  for (let i = 0; i < states; i++) {
    const cut = cuts[Math.floor(rnd() * cuts.length)]
    const mode = i % 2 === 0 ? 'durable' : 'random'
    const stateSeed = Math.floor(rnd() * 2 ** 31)
    const dir = join(work, `rstate-${i}`)
    materialize(crashState(initial, ops, cut, mode, stateSeed), dir)
    const found = await workloads[name].check(dir, acks, lib).catch(err => [`recovery failed: ${err.stack ?? err}`])
    for (const message of found)
      violations.push({
        workload: `${name} (its recovery cut)`,
        cut,
        mode,
        stateSeed,
        message: `after the recovery was cut and rerun: ${message}`,
        before: ops[cut - 1],
        after: ops[cut]
      })
    rmSync(dir, { recursive: true, force: true })
    checked++
  }
  rmSync(work, { recursive: true, force: true })
  return { checked, violations }
}

/**
 * Runs `name` once through crashfs: the tree before it, and the log of its changes. With `killAfterMs`
 * (a live cut), the workload is killed with SIGKILL then, wherever it is.
 */
export async function record(name, { pkg = PACKAGE, work, killAfterMs }) {
  const binary = ensureCrashfs()
  requireFuse()
  const src = join(work, 'src')
  const mnt = join(work, 'mnt')
  mkdirSync(src, { recursive: true })
  mkdirSync(mnt, { recursive: true })
  await workloads[name].setup(src, await loadLib(pkg))
  const initial = snapshot(src)
  const stop = await mount(binary, src, mnt, join(work, 'log'))
  try {
    await runChild(name, [name, mnt, pkg], killAfterMs)
  } finally {
    await stop()
  }
  return { name, initial, ops: readLog(join(work, 'log')) }
}

/**
 * Checks up to `states` crash states of a recording: at every cut point first the state with only
 * what was durable, then the one with everything (a SIGKILL's), then seeded states between, round
 * by round until the budget is spent. Each round visits the cut points in a seeded order, so that a
 * budget smaller than their number samples the whole workload, not its first steps. Resolves with
 * what was checked and each violation, with the seed and cut that rebuild its state.
 */
export async function checkStates(recording, { pkg = PACKAGE, work, seed = 1, states = 100, onState } = {}) {
  const lib = await loadLib(pkg)
  const { name, initial, ops } = recording
  const cuts = cutPoints(ops)
  const rnd = random(seed)
  const violations = []
  let checked = 0
  for (let round = 0; checked < states && round < 10_000; round++) {
    for (const cut of shuffled(cuts, rnd)) {
      if (checked >= states) break
      const mode = round === 0 ? 'durable' : round === 1 ? 'all' : 'random'
      const stateSeed = Math.floor(rnd() * 2 ** 31)
      const dir = join(work, `state-${checked}`)
      materialize(crashState(initial, ops, cut, mode, stateSeed), dir)
      const acks = parseAcks(ops.slice(0, cut))
      let found
      try {
        found = await workloads[name].check(dir, acks, lib)
      } catch (err) {
        found = [`recovery failed: ${err.stack ?? err}`]
      }
      for (const message of found)
        violations.push({ workload: name, cut, mode, stateSeed, message, before: ops[cut - 1], after: ops[cut] })
      rmSync(dir, { recursive: true, force: true })
      checked++
      onState?.(checked, cut)
    }
  }
  return { checked, cuts: cuts.length, ops: ops.length, violations }
}

/** A copy of `items` in a seeded order (Fisher–Yates). */
function shuffled(items, rnd) {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy
}

/**
 * Live cuts: each workload killed with SIGKILL at a seeded moment while it runs (timed once first),
 * then the power cut at that moment: the state with only what was durable, and `variants` seeded
 * states of what the layer held unsynced, each recovered and checked. First, end to end, the log
 * replayed whole must rebuild the folder as the kill left it.
 */
export async function liveCuts({
  names = Object.keys(workloads).filter(name => !workloads[name].hidden),
  pkg = PACKAGE,
  seed = 1,
  rounds = 4,
  maxMs = 1500,
  variants = 3
} = {}) {
  const root = mkdtempSync(join(tmpdir(), 'sai-crash-live-'))
  const rnd = random(seed)
  const lib = await loadLib(pkg)
  const violations = []
  let checked = 0
  try {
    // how long each workload's process runs here, start-up included: the kills fall within it
    const took = {}
    for (const name of names) {
      const started = Date.now()
      await record(name, { pkg, work: join(root, `${name}-timing`) })
      took[name] = Math.min(maxMs, Date.now() - started)
    }
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const work = join(root, `${name}-${round}`)
        const killAfterMs = Math.floor(rnd() * took[name])
        const { initial, ops } = await record(name, { pkg, work, killAfterMs })
        // end to end: the log, replayed whole, rebuilds the folder the kill left (else its states are of another run)
        const unrecorded = replayDifferences({ initial, ops }, join(work, 'src'), join(work, 'all'))
        if (unrecorded.length > 0)
          violations.push({
            workload: name,
            cut: ops.length,
            mode: `live cut at ${killAfterMs} ms (${ops.length} records)`,
            stateSeed: 0,
            message: `the log does not rebuild the folder the kill left, at ${unrecorded.slice(0, 5).join(', ')}`,
            before: ops.at(-1)
          })
        for (let v = 0; v <= variants; v++) {
          const stateSeed = Math.floor(rnd() * 2 ** 31)
          const dir = join(work, `state-${v}`)
          materialize(crashState(initial, ops, ops.length, v === 0 ? 'durable' : 'random', stateSeed), dir)
          const found = await workloads[name]
            .check(dir, parseAcks(ops), lib)
            .catch(err => [`recovery failed: ${err.stack ?? err}`])
          for (const message of found)
            violations.push({
              workload: name,
              cut: ops.length,
              mode: `live cut at ${killAfterMs} ms (${ops.length} records), ${v === 0 ? 'durable' : 'random'}`,
              stateSeed,
              message,
              before: ops.at(-1)
            })
          checked++
        }
        rmSync(work, { recursive: true, force: true })
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  return { checked, violations }
}

/** Where the log of `recording`, replayed whole into `work`, does not rebuild the folder `src` (paths). */
export function replayDifferences({ initial, ops }, src, work) {
  return differences(crashState(initial, ops, ops.length, 'all'), src, work)
}

/** Records each workload and checks `states` states in all, shared among them. */
export async function run({
  names = Object.keys(workloads).filter(name => !workloads[name].hidden),
  pkg = PACKAGE,
  seed = 1,
  states = 300,
  recoveryShare = 0.2,
  log = () => {}
} = {}) {
  const root = mkdtempSync(join(tmpdir(), 'sai-crash-'))
  const results = []
  try {
    for (const [i, name] of names.entries()) {
      const work = join(root, name)
      const recording = await record(name, { pkg, work })
      const share = Math.floor(states / names.length) + (i < states % names.length ? 1 : 0)
      const result = await checkStates(recording, {
        pkg,
        work,
        seed: seed + i,
        states: share - Math.floor(share * recoveryShare)
      })
      // the rest of the share: the recovery itself cut, from the durable state at seeded cut points
      const rnd = random(seed + 1000 + i)
      const cuts = cutPoints(recording.ops)
      result.recoveryStates = 0
      for (let n = 0; result.checked < share && n < 100; n++) {
        const cut = cuts[Math.floor(rnd() * cuts.length)]
        const state = crashState(recording.initial, recording.ops, cut, 'durable')
        const acks = parseAcks(recording.ops.slice(0, cut))
        const again = await checkRecoveryCuts(name, state, acks, {
          pkg,
          work: join(work, `recovery-${n}`),
          seed: seed + n,
          states: Math.min(25, share - result.checked)
        })
        result.checked += again.checked
        result.recoveryStates += again.checked
        result.violations.push(...again.violations)
      }
      log(
        `${name}: ${recording.ops.length} records, ${result.cuts} cut points, ${result.checked} states (${result.recoveryStates} after a cut recovery), ${result.violations.length} violations\n`
      )
      results.push({ name, ...result })
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  return results
}

export function describe(violation) {
  const op = record => {
    if (record === undefined) return 'the end'
    const names = [record.name, record.newName === undefined ? undefined : `-> ${record.newName}`, record.label]
    return [`#${record.seq} ${record.op}`, ...names.filter(part => part !== undefined)].join(' ')
  }
  return `${violation.workload}: cut after ${op(violation.before)}, before ${op(violation.after)} (${violation.mode}, state seed ${violation.stateSeed}): ${violation.message}`
}

export function isMounted(dir) {
  return statSync(dir).dev !== statSync(join(dir, '..')).dev
}
