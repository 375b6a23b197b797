// The crash harness: records a workload once through crashfs, then builds the states a power cut
// may leave at each cut point (replay.mjs), runs the recovery on each and checks the invariants
// (workloads.mjs). See docs/durability.md.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureCrashfs } from '../infra/crashfs/install.mjs'
import { loadLib } from './lib.mjs'
import { crashState, cutPoints, materialize, random, readLog, snapshot } from './replay.mjs'
import { parseAcks, workloads } from './workloads.mjs'

const HERE = new URL('.', import.meta.url).pathname
export const REPO = join(HERE, '../..')

/** Fails, saying what to install, where FUSE cannot mount: never a silent skip. */
export function requireFuse () {
  if (!existsSync('/dev/fuse')) throw new Error('the crash tests need FUSE: /dev/fuse is missing (load the fuse module: `modprobe fuse`; in a container, run it with --device /dev/fuse --cap-add SYS_ADMIN)')
  if (process.getuid?.() !== 0) {
    try {
      execFileSync('fusermount3', ['-V'], { stdio: 'ignore' })
    } catch {
      throw new Error('the crash tests mount crashfs with FUSE: run them as root, or install fuse3 (`apt-get install fuse3`) for fusermount3')
    }
  }
}

/** Mounts crashfs over `src` at `mnt`, recording to `log`; resolves with a stop function once mounted. */
async function mount (binary, src, mnt, log) {
  const child = spawn(binary, [src, mnt, log], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += chunk })
  const exited = new Promise(resolve => child.on('exit', resolve))
  await new Promise((resolve, reject) => {
    child.stdout.on('data', chunk => { if (String(chunk).includes('ready')) resolve() })
    exited.then(code => reject(new Error(`crashfs exited (${code}) before mounting: ${stderr.trim()} (FUSE mounts need root, or fuse3's fusermount3: apt-get install fuse3)`)))
  })
  return async () => {
    child.kill('SIGTERM')
    const timer = setTimeout(() => { try { execFileSync('umount', ['-l', mnt]) } catch {} }, 5000)
    await exited
    clearTimeout(timer)
  }
}

/** Runs `name` once through crashfs: the tree before it, and the log of its changes. */
export async function record (name, { pkg = REPO, work }) {
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
    await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(HERE, 'work.mjs'), name, mnt, pkg], { stdio: ['ignore', 'inherit', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', chunk => { stderr += chunk })
      child.on('exit', code => code === 0 ? resolve() : reject(new Error(`workload ${name} failed (${code}): ${stderr}`)))
    })
  } finally {
    await stop()
  }
  return { name, initial, ops: readLog(join(work, 'log')) }
}

/**
 * Checks up to `states` crash states of a recording: at every cut point first the state with only
 * what was durable, then the one with everything (a SIGKILL's), then seeded states between, round
 * by round until the budget is spent. Resolves with what was checked and each violation, with the
 * seed and cut that rebuild its state.
 */
export async function checkStates (recording, { pkg = REPO, work, seed = 1, states = 100, onState } = {}) {
  const lib = await loadLib(pkg)
  const { name, initial, ops } = recording
  const cuts = cutPoints(ops)
  const rnd = random(seed)
  const violations = []
  let checked = 0
  for (let round = 0; checked < states && round < 10_000; round++) {
    for (const cut of cuts) {
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
      for (const message of found) violations.push({ workload: name, cut, mode, stateSeed, message, before: ops[cut - 1], after: ops[cut] })
      rmSync(dir, { recursive: true, force: true })
      checked++
      onState?.(checked)
    }
  }
  return { checked, cuts: cuts.length, ops: ops.length, violations }
}

/** Records each workload and checks `states` states in all, shared among them. */
export async function run ({ names = Object.keys(workloads).filter(name => !workloads[name].hidden), pkg = REPO, seed = 1, states = 300, log = () => {} } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'sai-crash-'))
  const results = []
  try {
    for (const [i, name] of names.entries()) {
      const work = join(root, name)
      const recording = await record(name, { pkg, work })
      const share = Math.floor(states / names.length) + (i < states % names.length ? 1 : 0)
      const result = await checkStates(recording, { pkg, work, seed: seed + i, states: share })
      log(`${name}: ${recording.ops.length} records, ${result.cuts} cut points, ${result.checked} states, ${result.violations.length} violations\n`)
      results.push({ name, ...result })
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
  return results
}

export function describe (violation) {
  const op = record => record === undefined ? 'the end' : `#${record.seq} ${record.op}${record.name === undefined ? '' : ` ${record.name}`}${record.newName === undefined ? '' : ` -> ${record.newName}`}${record.label === undefined ? '' : ` ${record.label}`}`
  return `${violation.workload}: cut after ${op(violation.before)}, before ${op(violation.after)} (${violation.mode}, state seed ${violation.stateSeed}): ${violation.message}`
}

export function isMounted (dir) {
  return statSync(dir).dev !== statSync(join(dir, '..')).dev
}
