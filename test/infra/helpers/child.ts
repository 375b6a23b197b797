import { spawn, type ChildProcess } from 'node:child_process'

export const CHILD = new URL('../fixtures/child.mjs', import.meta.url).pathname

/** Starts test/fixtures/child.mjs (the built package) in its own process. */
export function startChild(
  job: string,
  options: object,
  prefix: string[] = [],
  env?: NodeJS.ProcessEnv
): { child: ChildProcess; lines: () => any[]; done: Promise<number | null> } {
  const [command, ...args] = [...prefix, process.execPath, CHILD, job, JSON.stringify(options)]
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'], env: env ?? process.env })
  let out = ''
  child.stdout!.on('data', (data: Buffer) => {
    out += data.toString()
  })
  const done = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  const lines = (): any[] =>
    out
      .split('\n')
      .filter(line => line.startsWith('{'))
      .map(line => JSON.parse(line))
  return { child, lines, done }
}

/** Whether process `pid` exists (a zombie not yet reaped counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
