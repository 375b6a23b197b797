/** What the test setups share: Debian packages installed when missing, free loopback ports, waiting. */
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * Installs Debian packages whose `probe` file is missing (as root, with apt-get), saying why first:
 * the first `npm test` on a new machine spends a while here. `.ci/run` installs them up front.
 */
export function ensureDebianPackages(probe: string, packages: string[], why: string): void {
  if (existsSync(probe)) return
  if (process.getuid?.() !== 0)
    throw new Error(
      `${why} needs ${packages.join(' ')} (apt-get install -y ${packages.join(' ')}), or run npm test as root to install them`
    )
  process.stderr.write(
    `test setup: installing ${packages.join(' ')} from Debian for ${why} (once per machine; this takes a minute)\n`
  )
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  // the tests start their own servers on loopback ports: a package's service (Prometheus on :9090,
  // nginx on :80) is not started on install; policy-rc.d is what invoke-rc.d and
  // deb-systemd-invoke ask (101: not now), as Debian's container images have it
  const policy = '/usr/sbin/policy-rc.d'
  const ours = !existsSync(policy)
  if (ours)
    writeFileSync(
      policy,
      '#!/bin/sh\n# written by the sai-image-storage test setup while it installs packages\nexit 101\n',
      { mode: 0o755 }
    )
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env })
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env
    })
  } finally {
    if (ours) rmSync(policy, { force: true })
  }
}

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => {
        resolve(port)
      })
    })
  })
}

/** Polls `ready` until it resolves true, or fails after `ms`. */
export async function waitFor(what: string, ready: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    try {
      if (await ready()) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not start within ${ms} ms`)
}
