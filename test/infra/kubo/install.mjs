// The Kubo the IPFS driver is tested against, built once from this folder's Go module (go.mod and
// go.sum pin every module by hash) and cached outside the repo, keyed by version and go.sum:
//   ${XDG_CACHE_HOME:-~/.cache}/sai-image-storage/kubo-v0.43.1-<go.sum hash>/ipfs
// `node test/infra/kubo/install.mjs` builds it when missing and prints its path (.ci/run does);
// the test setup and the bench call ensureKubo(). Needs Go (1.26.5 or later) and the Go module proxy.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

export const KUBO_VERSION = '0.43.1'
const HERE = new URL('.', import.meta.url).pathname

/** Where the binary of this go.sum is (or will be) cached. */
export function kuboBinaryPath() {
  const sum = createHash('sha256')
    .update(readFileSync(join(HERE, 'go.sum')))
    .digest('hex')
    .slice(0, 12)
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(cache, 'sai-image-storage', `kubo-v${KUBO_VERSION}-${sum}`, 'ipfs')
}

/** The version line the binary prints, e.g. `0.43.1`. */
export function versionOf(binary) {
  return execFileSync(binary, ['version', '--number'], {
    encoding: 'utf8',
    env: { ...process.env, IPFS_PATH: '/nonexistent' }
  }).trim()
}

/**
 * The path of the Kubo binary, built first if it is not cached (saying so on stderr: about two
 * minutes on a fresh machine, half a minute with a warm Go module cache).
 * SAI_TEST_KUBO_BIN names another binary of the same version instead.
 */
export function ensureKubo({ log = message => process.stderr.write(message) } = {}) {
  const given = process.env.SAI_TEST_KUBO_BIN
  const binary = given || kuboBinaryPath()
  if (given === undefined || given === '') {
    if (existsSync(binary)) return binary
    build(binary, log)
  }
  const version = versionOf(binary)
  if (version !== KUBO_VERSION) throw new Error(`${binary} is Kubo ${version}; the tests pin ${KUBO_VERSION}`)
  return binary
}

function build(binary, log) {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' })
  } catch {
    throw new Error(
      `the IPFS tests need Kubo ${KUBO_VERSION}, built from test/infra/kubo/go.mod: install Go 1.26.5 or later (https://go.dev/dl), or set SAI_TEST_KUBO_BIN to a Kubo ${KUBO_VERSION} binary`
    )
  }
  log(
    `test setup: building Kubo ${KUBO_VERSION} from test/infra/kubo/go.mod into ${binary} (once per machine: about 3 minutes with empty Go caches)\n`
  )
  const started = Date.now()
  mkdirSync(join(binary, '..'), { recursive: true })
  const temp = `${binary}.${process.pid}.tmp`
  try {
    // -mod=readonly: go.sum decides, nothing is resolved anew; -buildvcs=false: the repo's git is not the build's
    try {
      execFileSync(
        'go',
        ['build', '-mod=readonly', '-trimpath', '-buildvcs=false', '-o', temp, 'github.com/ipfs/kubo/cmd/ipfs'],
        {
          cwd: HERE,
          stdio: ['ignore', 'ignore', 'pipe'],
          maxBuffer: 64 * 1024 * 1024,
          env: { ...process.env, GOFLAGS: '', GOWORK: 'off', CGO_ENABLED: process.env.CGO_ENABLED ?? '0' }
        }
      )
    } catch (err) {
      // go prints a line per module it downloads: shown only when the build fails
      throw new Error(
        `building Kubo ${KUBO_VERSION} failed:\n${String(err.stderr ?? err.message)
          .split('\n')
          .filter(line => !line.startsWith('go: downloading'))
          .join('\n')}`
      )
    }
    const version = versionOf(temp)
    if (version !== KUBO_VERSION) throw new Error(`the build gave Kubo ${version}, not ${KUBO_VERSION}`)
    renameSync(temp, binary) // a concurrent build of the same go.sum gives the same binary
  } finally {
    rmSync(temp, { force: true })
  }
  log(`test setup: Kubo ${KUBO_VERSION} built in ${Math.round((Date.now() - started) / 1000)} s\n`)
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  try {
    console.log(ensureKubo())
  } catch (err) {
    console.error(err.message)
    process.exit(1)
  }
}
