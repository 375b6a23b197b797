// A test server outlives a test process killed before its teardown (SIGKILL, an OOM, a CI timeout):
// the servers are its children, and are re-parented, not stopped. A watchdog is a detached shell
// that polls the owner's pid once a second and, once it is gone, runs the cleanup. Plain JavaScript
// so that the test setups, the Kubo and Ceph helpers and the benchmarks can all load it.
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'

/**
 * Runs the shell command `cleanup` once process `owner` (by default this one) has exited. Returns
 * the function that cancels it, for a normal stop. `cleanup` must not need a quoted path: every
 * path it names is a temp path without spaces.
 */
export function watchdog(cleanup, owner = process.pid) {
  const child = spawn('sh', ['-c', `while kill -0 ${owner} 2>/dev/null; do sleep 1; done; ${cleanup}`], {
    detached: true,
    stdio: 'ignore',
    cwd: tmpdir()
  })
  child.on('error', () => {})
  child.unref()
  return () => {
    child.kill()
  }
}
