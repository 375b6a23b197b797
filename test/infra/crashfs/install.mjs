// crashfs, the recording FUSE layer of the crash harness (test/crash), built once from this folder's
// Go module (go.mod and go.sum pin go-fuse by hash) and cached outside the repo, keyed by go.sum and
// main.go: ${XDG_CACHE_HOME:-~/.cache}/sai-image-storage/crashfs-<hash>/crashfs
// `node test/infra/crashfs/install.mjs` builds it when missing and prints its path (.ci/run does);
// the crash tests call ensureCrashfs(). Needs Go (1.26 or later) and the Go module proxy.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

const HERE = new URL('.', import.meta.url).pathname

/** Where the binary of this source is (or will be) cached. */
export function crashfsBinaryPath() {
  const hash = createHash('sha256')
  for (const file of ['go.sum', 'go.mod', 'main.go']) hash.update(readFileSync(join(HERE, file)))
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(cache, 'sai-image-storage', `crashfs-${hash.digest('hex').slice(0, 12)}`, 'crashfs')
}

/** The path of the crashfs binary, built first if it is not cached (about 20 s with a warm Go module cache). */
export function ensureCrashfs({ log = message => process.stderr.write(message) } = {}) {
  const binary = crashfsBinaryPath()
  if (existsSync(binary)) return binary
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' })
  } catch {
    throw new Error(
      'the crash tests need crashfs, built from test/infra/crashfs/go.mod: install Go 1.26 or later (https://go.dev/dl)'
    )
  }
  log(`test setup: building crashfs from test/infra/crashfs into ${binary}\n`)
  mkdirSync(join(binary, '..'), { recursive: true })
  const temp = `${binary}.${process.pid}.tmp`
  try {
    // -mod=readonly: go.sum decides, nothing is resolved anew; -buildvcs=false: the repo's git is not the build's
    try {
      execFileSync('go', ['build', '-mod=readonly', '-trimpath', '-buildvcs=false', '-o', temp, '.'], {
        cwd: HERE,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, GOFLAGS: '', GOWORK: 'off', CGO_ENABLED: '0' }
      })
    } catch (err) {
      throw new Error(
        `building crashfs failed:\n${String(err.stderr ?? err.message)
          .split('\n')
          .filter(line => !line.startsWith('go: downloading'))
          .join('\n')}`
      )
    }
    renameSync(temp, binary) // a concurrent build of the same source gives the same binary
  } finally {
    rmSync(temp, { force: true })
  }
  return binary
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  try {
    console.log(ensureCrashfs())
  } catch (err) {
    console.error(err.message)
    process.exit(1)
  }
}
