/**
 * Runs the built `sai-images` as an operator does: a child process, with the environment and the
 * working folder given, on pipes or on a real terminal (a pty made by util-linux `script`).
 *
 * PACKAGE_UNDER_TEST names another build of the package (a checkout of an older commit, built):
 * `PACKAGE_UNDER_TEST=/tmp/old-tree npx vitest run test/cli/...` shows which tests fail on it.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { expect } from 'vitest'
import { ROOT } from '../infra/helpers/consumer.js'

export const PACKAGE = process.env.PACKAGE_UNDER_TEST ?? ROOT
export const CLI = join(PACKAGE, 'dist/cli.js')

export interface Run {
  code: number | null
  stdout: string
  stderr: string
  bytes: Buffer
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  input?: Buffer
  cwd?: string
}

export function cli(args: string[], { env = {}, input, cwd }: RunOptions = {}): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    input,
    cwd,
    maxBuffer: 256 * 2 ** 20
  })
  return {
    code: result.status,
    stdout: result.stdout.toString(),
    stderr: result.stderr.toString(),
    bytes: result.stdout
  }
}

const quote = (word: string): string => `'${word.replace(/'/g, "'\\''")}'`

/**
 * The command on a terminal: stdin, stdout and stderr are one pty, so `output` holds both streams
 * (with the terminal's \r\n). `script -e` exits with the command's code.
 */
export function onTerminal(
  args: string[],
  { env = {}, cwd }: RunOptions = {}
): { code: number | null; output: string } {
  const command = [process.execPath, CLI, ...args].map(quote).join(' ')
  // latin1: one character per byte, so that binary output can be searched too
  const result = spawnSync('script', ['-qec', command, '/dev/null'], {
    env: { ...process.env, ...env },
    cwd,
    encoding: 'latin1',
    input: ''
  })
  return { code: result.status, output: result.stdout.replace(/\r\n/g, '\n') }
}

/** The run's one JSON answer: stdout (or `stream`) holds exactly one line, a JSON object. */
export function answer(run: Run, stream: 'stdout' | 'stderr' = 'stdout'): any {
  const lines = run[stream].split('\n').filter(line => line !== '')
  expect(lines, `${stream} of the run, one JSON line`).toHaveLength(1)
  const value = JSON.parse(lines[0]!)
  expect(typeof value).toBe('object')
  return value
}
