// The crash harness: records a workload once through crashfs, then builds the states a power cut
// may leave at each cut point (replay.mjs), runs the recovery on each and checks the invariants
// (workloads.mjs). See docs/durability.md.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureCrashfs } from '../infra/crashfs/install.mjs'
import { loadLib } from './lib.mjs'
import { crashState, cutPoints, differences, materialize, random, readLog, snapshot } from './replay.mjs'
import { endState, parseAcks, workloads } from './workloads.mjs'

const HERE = new URL('.', import.meta.url).pathname
export const REPO = join(HERE, '../..')
/** The package the workloads run: this checkout's build, or another's (as the CLI's tests take it). */
export const PACKAGE = process.env.PACKAGE_UNDER_TEST || REPO

/** Every workload's name (`probe` apart: the recorder's own). */
export const WORKLOAD_NAMES = Object.keys(workloads).filter(name => !workloads[name].hidden)

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

/**
 * crashfs over `src` at `mnt`, recording to `log`, for a test of its own (a file made unreadable: main.go); resolves
 * with a stop function once mounted.
 */
export async function mountCrashfs(src, mnt, log) {
  requireFuse()
  return await mount(ensureCrashfs(), src, mnt, log)
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
 * The workload's recovery and checks on the state in `dir` (workloads.mjs, `check`). Invariant 4 too: where the
 * workload names its end state and its command had begun (`endState.begun`), the recovery (the command rerun) must
 * leave the end state `uncut`, the one it leaves after the uncut run.
 */
export async function recover(name, dir, acks, lib, uncut) {
  const { check, endState: end } = workloads[name]
  let found
  try {
    found = await check(dir, acks, lib)
  } catch (err) {
    return { found: [`recovery failed: ${err.stack ?? err}`], compared: false }
  }
  if (!uncut || !end.begun(acks)) return { found, compared: false }
  const got = endState(dir, end.roots)
  const differs = [
    ...uncut.filter(line => !got.includes(line)).map(line => `without ${line}`),
    ...got.filter(line => !uncut.includes(line)).map(line => `with ${line}`)
  ]
  if (differs.length > 0)
    found.push(`the command rerun after the cut ends elsewhere than the uncut run: ${differs.join('; ')}`)
  return { found, compared: true }
}

/** Invariant 4's reference: the end state the recovery leaves after the whole run (undefined: none is named). */
export async function uncutEnd({ name, initial, ops }, lib, dir) {
  if (workloads[name].endState === undefined) return undefined
  materialize(crashState(initial, ops, ops.length, 'all'), dir)
  await workloads[name].check(dir, parseAcks(ops), lib)
  const end = endState(dir, workloads[name].endState.roots)
  rmSync(dir, { recursive: true, force: true })
  return end
}

/**
 * Invariant 6: the recovery itself cut. The recovery (the workload's check: verify --repair and the
 * reruns) runs through crashfs on the crash state `state`; then at seeded cut points of that run
 * (`states` of them), the state it leaves is recovered again and checked, with the acknowledgements `acks`.
 */
export async function checkRecoveryCuts(name, state, acks, { pkg = PACKAGE, work, seed = 1, states = 20, uncut }) {
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
  let ended = 0
  for (let i = 0; i < states; i++) {
    const cut = cuts[Math.floor(rnd() * cuts.length)]
    const mode = i % 2 === 0 ? 'durable' : 'random'
    const stateSeed = Math.floor(rnd() * 2 ** 31)
    const dir = join(work, `rstate-${i}`)
    materialize(crashState(initial, ops, cut, mode, stateSeed), dir)
    const { found, compared } = await recover(name, dir, acks, lib, uncut)
    if (compared) ended++
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
  return { checked, ended, violations }
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
export async function checkStates(recording, { pkg = PACKAGE, work, seed = 1, states = 100, onState, uncut } = {}) {
  const lib = await loadLib(pkg)
  const { name, initial, ops } = recording
  const end = uncut ?? (await uncutEnd(recording, lib, join(work, 'uncut')))
  const cuts = cutPoints(ops)
  const rnd = random(seed)
  const violations = []
  let checked = 0
  let ended = 0 // states whose end state was compared with the uncut run's (invariant 4)
  for (let round = 0; checked < states && round < 10_000; round++) {
    for (const cut of shuffled(cuts, rnd)) {
      if (checked >= states) break
      const mode = round === 0 ? 'durable' : round === 1 ? 'all' : 'random'
      const stateSeed = Math.floor(rnd() * 2 ** 31)
      const dir = join(work, `state-${checked}`)
      materialize(crashState(initial, ops, cut, mode, stateSeed), dir)
      const acks = parseAcks(ops.slice(0, cut))
      const { found, compared } = await recover(name, dir, acks, lib, end)
      if (compared) ended++
      for (const message of found)
        violations.push({ workload: name, cut, mode, stateSeed, message, before: ops[cut - 1], after: ops[cut] })
      rmSync(dir, { recursive: true, force: true })
      checked++
      onState?.(checked, cut)
    }
  }
  return { checked, ended, cuts: cuts.length, ops: ops.length, violations }
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
 * Live cuts, end to end: each workload killed with SIGKILL at a seeded moment while it runs (timed once first), then
 * the power cut. First the log, replayed whole, must rebuild the folder as the kill left it (else the states are of
 * another run). Then, `variants` + 1 times, the folder under the layer loses what the layer held unsynced (the state
 * with only what was durable, then seeded states that keep part of the rest), the layer mounts it again at the same
 * place, and the recovery runs there, as on the host after a reboot. Every other time the recovery is itself cut
 * first: killed at a seeded moment, the power cut again, remounted, recovered again.
 */
export async function liveCuts({
  names = Object.keys(workloads).filter(name => !workloads[name].hidden),
  pkg = PACKAGE,
  seed = 1,
  rounds = 4,
  maxMs = 1500,
  variants = 3
} = {}) {
  const binary = ensureCrashfs()
  const root = mkdtempSync(join(tmpdir(), 'sai-crash-live-'))
  const rnd = random(seed)
  const lib = await loadLib(pkg)
  const violations = []
  let checked = 0
  let ended = 0
  try {
    // how long each workload's process runs here, start-up included: the kills fall within it; and the end state
    // the recovery leaves after the uncut run (invariant 4)
    const took = {}
    const uncut = {}
    for (const name of names) {
      const started = Date.now()
      const recording = await record(name, { pkg, work: join(root, `${name}-timing`) })
      took[name] = Math.min(maxMs, Date.now() - started)
      uncut[name] = await uncutEnd(recording, lib, join(root, `${name}-uncut`))
      rmSync(join(root, `${name}-timing`), { recursive: true, force: true })
    }
    for (let round = 0; round < rounds; round++) {
      for (const name of names) {
        const work = join(root, `${name}-${round}`)
        const [src, mnt, acksFile, uncutFile, resultFile] = [
          'src',
          'mnt',
          'acks.json',
          'uncut.json',
          'result.json'
        ].map(part => join(work, part))
        const killAfterMs = Math.floor(rnd() * took[name])
        const { initial, ops } = await record(name, { pkg, work, killAfterMs })
        const at = `live cut at ${killAfterMs} ms (${ops.length} records)`
        const report = (message, how, stateSeed) =>
          violations.push({
            workload: name,
            cut: ops.length,
            mode: `${at}${how}`,
            stateSeed,
            message,
            before: ops.at(-1)
          })
        const unrecorded = replayDifferences({ initial, ops }, src, join(work, 'all'))
        if (unrecorded.length > 0)
          report(`the log does not rebuild the folder the kill left, at ${unrecorded.slice(0, 5).join(', ')}`, '', 0)
        writeFileSync(acksFile, JSON.stringify(parseAcks(ops)))
        writeFileSync(uncutFile, JSON.stringify(uncut[name] ?? null))
        for (let v = 0; v <= variants; v++) {
          const stateSeed = Math.floor(rnd() * 2 ** 31)
          const how = `, ${v === 0 ? 'durable' : 'random'}${v % 2 === 1 ? ', its recovery cut too' : ''}, remounted`
          powerCut(src, crashState(initial, ops, ops.length, v === 0 ? 'durable' : 'random', stateSeed))
          if (v % 2 === 1) {
            const before = snapshot(src)
            const log = join(work, `recovery-${v}.log`)
            const stop = await mount(binary, src, mnt, log)
            try {
              await runChild(name, ['--recover', name, mnt, pkg, acksFile], Math.floor(rnd() * took[name]))
            } finally {
              await stop()
            }
            const cut = readLog(log)
            powerCut(src, crashState(before, cut, cut.length, 'durable'))
          }
          // the recovery in a process of its own, as an operator's: none of its files stays open in the mount
          const stop = await mount(binary, src, mnt, join(work, `check-${v}.log`))
          try {
            await runChild(name, ['--recover', name, mnt, pkg, acksFile, uncutFile, resultFile])
          } finally {
            await stop()
          }
          const result = JSON.parse(readFileSync(resultFile, 'utf8'))
          if (result.compared) ended++
          for (const message of result.found) report(message, how, stateSeed)
          checked++
        }
        rmSync(work, { recursive: true, force: true })
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  return { checked, ended, violations }
}

/** The power cut under the layer: the folder `src` keeps only the crash state `state` (unmounted meanwhile). */
function powerCut(src, state) {
  rmSync(src, { recursive: true, force: true })
  materialize(state, src)
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
      const uncut = await uncutEnd(recording, await loadLib(pkg), join(work, 'uncut'))
      const share = Math.floor(states / names.length) + (i < states % names.length ? 1 : 0)
      const result = await checkStates(recording, {
        pkg,
        work,
        seed: seed + i,
        states: share - Math.floor(share * recoveryShare),
        uncut
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
          states: Math.min(25, share - result.checked),
          uncut
        })
        result.checked += again.checked
        result.ended += again.ended
        result.recoveryStates += again.checked
        result.violations.push(...again.violations)
      }
      log(
        `${name}: ${recording.ops.length} records, ${result.cuts} cut points, ${result.checked} states (${result.recoveryStates} after a cut recovery, ${result.ended} end states compared), ${result.violations.length} violations\n`
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

/** Unmounts every crashfs mount a run of this harness left under the temp folder (a test timed out mid-run). */
export function unmountLeftovers() {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n')
  for (const [, path, type] of mounts.map(line => line.split(' ')))
    if (type === 'fuse.crashfs' && path.startsWith(join(tmpdir(), 'sai-crash')))
      try {
        execFileSync('umount', ['-l', path])
      } catch {} // gone meanwhile
}
