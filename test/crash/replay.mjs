// Crash states from a crashfs log (test/infra/crashfs), under the model ALICE assumes rather than
// ext4's kindness (see docs/durability.md):
// - a file's contents are durable up to its last fsync (a write on an O_DSYNC or O_SYNC handle is
//   durable itself when it returns); of what follows, each write may be kept, lost, or torn at
//   4 KiB (some of its blocks kept), each truncate or time change kept or lost;
// - a name created, linked, renamed or removed (mkdir, rmdir too) is durable once a directory it
//   touches is fsynced after it; of the rest, each directory keeps a prefix of its pending changes.
// Files are known by inode number, so a hard link and a rename move inodes, not bytes.
import { createHash } from 'node:crypto'
import { linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const BLOCK = 4096
const DIR_OPS = new Set(['create', 'mkdir', 'link', 'unlink', 'rmdir', 'rename'])
const DATA_OPS = new Set(['write', 'truncate', 'setattr'])

/** A small, seedable PRNG (mulberry32): a state is rebuilt exactly from its seed. */
export function random(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The tree under `dir` before the workload, by inode: { root, dirs: Map<ino, Map<name, ino>>, files: Map<ino, {data,
 * mt}> }.
 */
export function snapshot(dir) {
  const dirs = new Map()
  const files = new Map()
  const visit = path => {
    const ino = String(lstatSync(path, { bigint: true }).ino)
    const entries = new Map()
    dirs.set(ino, entries)
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name)
      const stats = lstatSync(child, { bigint: true })
      entries.set(entry.name, String(stats.ino))
      if (entry.isDirectory()) visit(child)
      else if (!files.has(String(stats.ino)))
        files.set(String(stats.ino), { data: readFileSync(child), mt: Number(stats.mtimeNs) })
    }
  }
  visit(dir)
  return { root: String(lstatSync(dir, { bigint: true }).ino), dirs, files }
}

/**
 * The log's records, in order, each write with its bytes. Inode numbers are reused once freed: each
 * file or directory made is known by `<ino>#<seq>` from then on, one made before by its number.
 */
export function readLog(path) {
  const data = readFileSync(`${path}.data`)
  const ops = readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line))
  const current = new Map()
  const id = ino => current.get(ino) ?? String(ino)
  for (const op of ops) {
    if (op.op === 'write') op.bytes = data.subarray(op.data, op.data + op.len)
    if (op.op === 'create' || op.op === 'mkdir') current.set(op.ino, `${op.ino}#${op.seq}`)
    for (const field of ['ino', 'dir', 'to']) if (op[field] !== undefined && op.op !== 'ack') op[field] = id(op[field])
  }
  return ops.filter(op => op.op !== 'root')
}

/** The directories a change touches. */
function touched(op) {
  return op.op === 'rename' ? [op.dir, op.to] : [op.dir]
}

/**
 * The cut points worth a state: just before and just after each fsync, directory fsync, link,
 * rename and unlink, and just after each acknowledgement; a cut is the number of records that
 * happened before it.
 */
export function cutPoints(ops) {
  const cuts = new Set([0, ops.length])
  ops.forEach((op, i) => {
    if (['fsync', 'fsyncdir', 'link', 'rename', 'unlink', 'rmdir'].includes(op.op) || (op.op === 'write' && op.sync))
      cuts.add(i)
    if (op.op !== 'write' || op.sync) cuts.add(i + 1)
  })
  return [...cuts].sort((a, b) => a - b)
}

/**
 * The state after a power cut once `cut` records happened. `mode`: 'durable' keeps only what was
 * made durable, 'all' keeps everything (what a SIGKILL leaves), 'random' a seeded subset between.
 */
export function crashState(initial, ops, cut, mode, seed = 0) {
  const rnd = random(seed)
  const pick = p => mode === 'all' || (mode === 'random' && rnd() < p)
  const dirSynced = new Map()
  const fileSynced = new Map()
  for (let i = 0; i < cut; i++) {
    const op = ops[i]
    if (op.op === 'fsyncdir') dirSynced.set(op.ino, i)
    if (op.op === 'fsync' || (op.op === 'write' && op.sync)) fileSynced.set(op.ino, i)
  }
  // directory changes: the durable ones, then a prefix of each directory's pending ones
  const keep = new Set()
  const pending = new Map()
  for (let i = 0; i < cut; i++) {
    const op = ops[i]
    if (!DIR_OPS.has(op.op)) continue
    if (touched(op).some(dir => (dirSynced.get(dir) ?? -1) > i)) keep.add(i)
    else for (const dir of touched(op)) pending.set(dir, [...(pending.get(dir) ?? []), i])
  }
  const prefix = new Map()
  for (const [dir, list] of pending) {
    const r = rnd()
    prefix.set(
      dir,
      mode === 'all'
        ? list.length
        : mode === 'durable'
          ? 0
          : r < 0.3
            ? 0
            : r < 0.6
              ? list.length
              : Math.floor(rnd() * (list.length + 1))
    )
  }
  for (const [dir, list] of pending) {
    list.slice(0, prefix.get(dir)).forEach(i => {
      if (touched(ops[i]).every(d => pending.get(d).indexOf(i) < prefix.get(d))) keep.add(i)
    })
  }
  const dirs = new Map([...initial.dirs].map(([ino, entries]) => [ino, new Map(entries)]))
  const entriesOf = ino => dirs.get(ino) ?? dirs.set(ino, new Map()).get(ino)
  const files = new Map([...initial.files].map(([ino, file]) => [ino, { data: file.data, mt: file.mt }]))
  const fileOf = (ino, mt) => files.get(ino) ?? files.set(ino, { data: Buffer.alloc(0), mt }).get(ino)
  for (let i = 0; i < cut; i++) {
    const op = ops[i]
    if (DIR_OPS.has(op.op)) {
      if (op.op === 'create') fileOf(op.ino, op.mt)
      if (op.op === 'mkdir') entriesOf(op.ino)
      if (!keep.has(i)) continue
      if (op.op === 'create' || op.op === 'mkdir' || op.op === 'link') entriesOf(op.dir).set(op.name, op.ino)
      else if (op.op === 'unlink' || op.op === 'rmdir') {
        if (entriesOf(op.dir).get(op.name) === op.ino) entriesOf(op.dir).delete(op.name)
      } else if (op.op === 'rename') {
        if (entriesOf(op.dir).get(op.name) === op.ino) entriesOf(op.dir).delete(op.name)
        entriesOf(op.to).set(op.newName, op.ino)
      }
    } else if (DATA_OPS.has(op.op)) {
      const durable = (fileSynced.get(op.ino) ?? -1) > i || (op.op === 'write' && op.sync)
      const file = fileOf(op.ino, op.mt)
      if (op.op === 'write') {
        if (durable || pick(0.5)) applyWrite(file, op, () => true)
        else if (mode === 'random' && rnd() < 0.5) applyWrite(file, op, () => rnd() < 0.5) // torn at 4 KiB
      } else if (durable || pick(0.6)) {
        if (op.size !== undefined) file.data = resize(file.data, op.size)
        if (op.mt !== undefined) file.mt = op.mt
      }
    }
  }
  return { root: initial.root, dirs, files }
}

function resize(data, size) {
  if (size <= data.length) return data.subarray(0, size)
  return Buffer.concat([data, Buffer.alloc(size - data.length)])
}

/** Applies a write, or those of its 4 KiB blocks (aligned in the file) that `keepBlock` keeps. */
function applyWrite(file, op, keepBlock) {
  const end = op.off + op.len
  let kept = false
  for (let start = op.off; start < end; ) {
    const stop = Math.min(end, (Math.floor(start / BLOCK) + 1) * BLOCK)
    if (keepBlock()) {
      if (file.data.length < stop) file.data = resize(file.data, stop)
      else file.data = Buffer.from(file.data) // copies: the initial state's buffers are shared
      op.bytes.copy(file.data, start, start - op.off, stop - op.off)
      kept = true
    }
    start = stop
  }
  if (kept) file.mt = op.mt
}

/** Writes a state out under `dir` (which must not exist): directories, files with their mtimes, hard links. */
export function materialize(state, dir) {
  const made = new Map()
  const visit = (ino, path, depth) => {
    mkdirSync(path)
    if (depth > 64) return
    for (const [name, child] of state.dirs.get(ino) ?? []) {
      const target = join(path, name)
      if (state.files.has(child)) {
        if (made.has(child)) {
          linkSync(made.get(child), target)
          continue
        }
        const file = state.files.get(child)
        writeFileSync(target, file.data)
        const seconds = file.mt / 1e9
        utimesSync(target, seconds, seconds)
        made.set(child, target)
      } else if (state.dirs.has(child) && path.split('/').length < 200) visit(child, target, depth + 1)
    }
  }
  visit(state.root, dir, 0)
}

/**
 * The paths where the tree under `dir` and the state `state` differ (a name only one has, or other bytes): none when
 * the log rebuilds what really happened. mtimes are not compared.
 */
export function differences(state, dir, work) {
  materialize(state, work)
  const digest = root => {
    const found = new Map()
    for (const entry of readdirSync(root, { withFileTypes: true, recursive: true })) {
      const path = join(entry.parentPath, entry.name)
      found.set(path.slice(root.length + 1), entry.isDirectory() ? 'a folder' : sha256(readFileSync(path)))
    }
    return found
  }
  const [real, replayed] = [digest(dir), digest(work)]
  return [...new Set([...real.keys(), ...replayed.keys()])].filter(path => real.get(path) !== replayed.get(path)).sort()
}

/** SHA-256 hex of bytes. */
export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex')
}
