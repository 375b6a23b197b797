/**
 * A real PostgreSQL for the tests that need one: SAI_TEST_DATABASE_URL (yours), or a throwaway
 * cluster of Debian's PostgreSQL, made with initdb in a temp dir as the unprivileged `postgres`
 * user, on a free loopback port, and removed afterwards. Tests read the URL with inject('databaseUrl').
 * A vitest killed (SIGKILL, an OOM) leaves no server behind: a detached watchdog stops it once vitest's
 * pid is gone. Manual check: `npx vitest run test/infra/postgres.test.ts &`, `kill -9` the vitest
 * process once `pgrep -f sai-pg-` shows the server, then within 5 s `pgrep -f sai-pg-` finds nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { watchdog } from '../watchdog.mjs'
import { ensureDebianPackages, freePort, waitFor } from './services.js'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
  }
}

const PG_ROOT = '/usr/lib/postgresql'

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.SAI_TEST_DATABASE_URL
  if (external !== undefined && external !== '') {
    project.provide('databaseUrl', external)
    return undefined
  }
  ensureDebianPackages(PG_ROOT, ['postgresql'], 'the PostgreSQL tests (ETL, backfill, prune --keep-sql)')
  const bin = join(PG_ROOT, readdirSync(PG_ROOT).sort((a, b) => Number(b) - Number(a))[0], 'bin')
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'sai-pg-'))
  if (asRoot) chownSync(dir, uid('postgres'), gid('postgres'))
  const data = join(dir, 'data')
  const as = (tool: string, args: string[]): string[] =>
    asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, tool), ...args] : [join(bin, tool), ...args]
  const run = (tool: string, args: string[]): void => {
    const command = as(tool, args)
    execFileSync(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir })
  }
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'sai', '--no-sync', '-E', 'UTF8', '--locale=C'])
  const port = await freePort()
  run('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
    'start'
  ])
  // pg_ctl's server outlives a vitest killed before its teardown: a watchdog stops it when this process is gone
  const stop = as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).join(' ') // (temp paths: no spaces)
  const cancelWatchdog = watchdog(`${stop} >/dev/null 2>&1; rm -rf ${dir}`)
  const url = `postgres://sai@127.0.0.1:${port}/postgres`
  await waitFor(
    'PostgreSQL',
    () => spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).status === 0
  )
  project.provide('databaseUrl', url)
  return async () => {
    cancelWatchdog()
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim())
}

function gid(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim())
}
