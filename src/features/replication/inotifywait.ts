/**
 * The primary's layout watched by ONE child process, `inotifywait -m -r` (Debian's inotify-tools):
 * the kernel holds a watch per folder (65,793 at the default depth) and the child their paths, about
 * 18 MB of RSS at 1M objects, where Node's own `fs.watch` costs the service about 1.4 KB a folder
 * (folder-watches.ts) and a stat pass over every folder 0.1 s of CPU (folders.ts). Its events name
 * the leaf folders that changed; `-r` watches folders made later too (a new one is listed whole, in
 * case a frame landed in it before its watch). Events can be lost: the kernel's queue overflowed
 * (inotifywait prints `Q_OVERFLOW`), a new folder could not be watched, the child is starting or
 * ended. Each sets `lost`, and the watcher then stats every folder (its full pass, also run every
 * `fullEveryMs` as the net). The kernel refuses watches past the user's `max_user_watches`: the
 * child is only started if the layout fits `inotifyBudget()`, and ends if a watch is refused.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** How the watcher finds frames written by other processes (`watch.json`'s `mechanism`). */
export type WatchMechanism = 'inotifywait' | 'fs.watch' | 'stat'

/** The watches the child may take: 3/4 of the user's `max_user_watches` (the rest for the user's other programs). */
export function inotifyBudget(limits = '/proc/sys/fs/inotify/max_user_watches'): number {
  try {
    return Math.floor((Number(readFileSync(limits, 'utf8').trim()) * 3) / 4) || 0
  } catch {
    return 0 // not Linux, or no inotify
  }
}

/**
 * The child to watch with now: `previous` while it runs, or if it cannot run (missing, refused); a
 * new one `restartMs` after it ended; one refused if the layout's `folders` (an eighth more, for the
 * folders still to come) do not fit `inotifyBudget()`.
 */
export function keepWatching(
  previous: LayoutWatch | undefined,
  init: LayoutWatchInit,
  folders: number,
  restartMs: number,
  budget = inotifyBudget()
): LayoutWatch {
  if (previous !== undefined && (!previous.ended || previous.missing || previous.refused)) return previous
  if (previous !== undefined && Date.now() - previous.endedAt < restartMs) return previous
  const child = new LayoutWatch(init)
  if (folders * 1.125 <= budget) child.start()
  else child.refuse(`${folders} folders, more than the inotify budget (3/4 of max_user_watches, ${budget})`)
  return child
}

/**
 * inotifywait ($0 and its arguments) tied to this process by a pipe on the shell's stdin: once it is
 * closed (by `close()`, or because this process died, even by SIGKILL), the shell's `read` (a builtin)
 * ends and inotifywait is ended, not left behind holding its watches. The shell waits for it and
 * exits with its status (127: not found).
 */
const TIED =
  'exec 3<&0; "$0" "$@" </dev/null & w=$!; ' +
  '{ while read -r _; do :; done <&3; kill $w 2>/dev/null; } & exec 3<&-; wait $w'

export interface LayoutWatchInit {
  root: string
  /** Shard levels below the root. */
  depth: number
  isShardDir: (name: string) => boolean
  /** The program, found on PATH by default. */
  command?: string
  /** Something changed (or was lost): the watcher passes soon. */
  onEvent: () => void
  /** The child ended or reported a problem (logged by the watcher). */
  onTrouble: (message: string) => void
}

export class LayoutWatch {
  /** Its watches are established and it runs: its events name every change, unless `lost`. */
  live = false
  /** It ended (or never started); `missing`: no such program. */
  ended = false
  missing = false
  /** A watch was refused for want of budget: not started again. */
  refused = false
  endedAt = 0
  private lost = true
  private readonly keys = new Set<string>()
  /** Folders above the leaves made (or moved in) since the last take: their leaves are listed. */
  private readonly trees = new Set<string>()
  private child?: ChildProcess
  private closing = false
  private out = ''

  constructor(private readonly init: LayoutWatchInit) {}

  start(): void {
    const { root } = this.init
    // the root watched, but for its folders that are no shard folder (the state folder): `@path` excludes
    const others = entries(root).filter(name => !this.init.isShardDir(name))
    const args = ['-m', '-r', '-e', 'create,moved_to,close_write,q_overflow']
    // NUL after each event: a file name may hold any other character
    args.push('--format', '%e %w%f%0', '--no-newline', root, ...others.map(name => `@${join(root, name)}`))
    const child = spawn('/bin/sh', ['-c', TIED, this.init.command ?? 'inotifywait', ...args], {
      stdio: ['pipe', 'pipe', 'pipe']
    })
    this.child = child
    child.on('error', err => this.end(`inotifywait could not start: ${err.message}`))
    child.on('exit', (code, signal) => {
      this.missing = code === 127 // sh: not found
      this.end(`inotifywait ended (${signal ?? `exit ${code}`})`)
    })
    child.stdin!.on('error', () => {}) // it ended: 'exit' tells
    child.stdout!.setEncoding('utf8').on('data', (data: string) => this.events(data))
    let err = ''
    child.stderr!.setEncoding('utf8').on('data', (data: string) => {
      err += data
      const lines = err.split('\n')
      err = lines.pop()!
      for (const line of lines) this.said(line)
    })
  }

  /** The leaf folders (keys `ab/cd`) named by events since the last call, and whether events were lost. */
  take(): { keys: string[]; lost: boolean } {
    for (const tree of this.trees) this.leavesOf(tree, tree.split('/').length)
    this.trees.clear()
    const taken = { keys: [...this.keys], lost: this.lost }
    this.keys.clear()
    this.lost = false
    return taken
  }

  /** Not started: stat passes instead (`message` logged). */
  refuse(message: string): void {
    this.refused = true
    this.end(`${message}: stat passes`)
  }

  close(): void {
    this.live = false
    this.closing = true
    this.child?.stdin?.end() // its end of the pipe closed: the shell ends inotifywait
  }

  private end(message: string): void {
    if (this.ended) return
    const expected = this.closing
    this.child?.stdin?.end() // the shell's reader of the pipe too
    this.ended = true
    this.endedAt = Date.now()
    this.live = false
    this.lost = true
    if (!expected) this.init.onTrouble(message)
    this.init.onEvent()
  }

  /** A line on its stderr: its start, or a trouble (then a full pass, and for want of watches its end). */
  private said(line: string): void {
    if (line.startsWith('Setting up watches')) return
    if (line === 'Watches established.') {
      this.live = true
      this.lost = true // what landed while it set up: the full pass finds it
      this.init.onEvent()
      return
    }
    this.lost = true
    this.init.onTrouble(`inotifywait: ${line}`)
    if (/upper limit|No space left/i.test(line)) {
      this.refused = true // no watch for a new folder: stat passes from now on
      this.close()
    }
    this.init.onEvent()
  }

  private events(data: string): void {
    this.out += data
    const records = this.out.split('\0')
    this.out = records.pop()!
    for (const record of records) this.event(record)
    if (records.length > 0) this.init.onEvent()
  }

  /** `EVENTS path`: the leaf folder it names; anything not shaped as the layout is ignored. */
  private event(record: string): void {
    const space = record.indexOf(' ')
    const events = record.slice(0, space).split(',')
    if (events.includes('Q_OVERFLOW')) {
      this.lost = true
      return
    }
    const { root, depth } = this.init
    const path = record.slice(space + 1)
    if (!path.startsWith(`${root}/`)) return
    const parts = path.slice(root.length + 1).split('/')
    if (events.includes('ISDIR')) {
      // a folder made or moved in: a leaf is listed, a folder above them has its leaves listed
      if (parts.length > depth || !parts.every(this.init.isShardDir)) return
      if (parts.length === depth) this.keys.add(parts.join('/'))
      else this.trees.add(parts.join('/'))
      return
    }
    const folder = parts.slice(0, -1)
    if (folder.length === depth && folder.every(this.init.isShardDir)) this.keys.add(folder.join('/'))
  }

  /** The leaves below `key`, `level` levels below the root, named as changed. */
  private leavesOf(key: string, level: number): void {
    for (const name of entries(join(this.init.root, key))) {
      if (!this.init.isShardDir(name)) continue
      if (level + 1 === this.init.depth) this.keys.add(`${key}/${name}`)
      else this.leavesOf(`${key}/${name}`, level + 1)
    }
  }
}

function entries(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter(e => e.isDirectory())
      .map(e => e.name)
  } catch {
    return []
  }
}
