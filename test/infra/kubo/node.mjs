// A throwaway Kubo node for tests and benchmarks: `ipfs init` into a temp IPFS_PATH with the test
// profile, nothing outside loopback (no swarm listener, no routing, no bootstrap, AutoConf off),
// the API and gateway on free loopback ports (port 0: the node writes the real ones to its repo).
// startKubo() resolves once the API answers; stop() shuts it down and removes the repo.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { watchdog } from '../watchdog.mjs'
import { ensureKubo } from './install.mjs'

/**
 * What the test node changes beyond `ipfs init --profile=test,announce-off` (which sets the loopback API and gateway,
 * no bootstrap, no mDNS, no AutoConf, no AutoTLS, no NAT port mapping, no providing).
 */
export function isolate(config) {
  config.Addresses.API = config.Addresses.API ?? '/ip4/127.0.0.1/tcp/0'
  config.Addresses.Swarm = [] // no libp2p listener at all
  config.Routing = { ...config.Routing, Type: 'none' } // no DHT
  config.Plugins = { Plugins: { ...config.Plugins?.Plugins, telemetry: { Config: { Mode: 'off' } } } }
  return config
}

/**
 * Options: `profiles` (more `ipfs init` profiles, e.g. `unixfs-v1-2025`), `flatfsSync` (the
 * blocks mount's `sync`), `offline` (`ipfs daemon --offline`: a missing block fails at once
 * instead of being looked for), `config(config)` (any other edit), `defaults` (plain `ipfs init`,
 * for a test that shows what isolation prevents), `command` (a prefix such as strace's).
 */
export async function startKubo(options = {}) {
  const binary = options.binary ?? ensureKubo()
  const repo = await mkdtemp(join(tmpdir(), 'sai-kubo-'))
  const env = { ...process.env, IPFS_PATH: repo, IPFS_TELEMETRY: 'off', GOLOG_LOG_LEVEL: 'error' }
  const profiles = [...(options.defaults ? [] : ['test', 'announce-off']), ...(options.profiles ?? [])]
  await run(binary, ['init', '--empty-repo', ...(profiles.length > 0 ? [`--profile=${profiles.join(',')}`] : [])], env)
  const configPath = join(repo, 'config')
  let config = JSON.parse(await readFile(configPath, 'utf8'))
  if (!options.defaults) config = isolate(config)
  else config.Addresses = { ...config.Addresses, API: '/ip4/127.0.0.1/tcp/0', Gateway: '/ip4/127.0.0.1/tcp/0' }
  if (options.flatfsSync !== undefined) flatfsMount(config).sync = options.flatfsSync
  config = options.config?.(config) ?? config
  await writeFile(configPath, JSON.stringify(config, null, 2))

  const node = { binary, repo, url: '', gatewayUrl: '', pid: 0, log: '' }
  let daemon
  let exited
  let cancelWatchdog = () => {}
  const launch = async () => {
    const [command, ...prefix] = [...(options.command ?? []), binary]
    daemon = spawn(command, [...prefix, 'daemon', ...(options.offline ? ['--offline'] : [])], {
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    node.pid = daemon.pid
    cancelWatchdog()
    cancelWatchdog = watchdog(`kill -9 ${daemon.pid}; rm -rf ${repo}`)
    daemon.stdout.on('data', d => {
      node.log += d
    })
    daemon.stderr.on('data', d => {
      node.log += d
    })
    exited = new Promise(resolve => daemon.once('exit', resolve))
    const deadline = Date.now() + 60_000
    for (;;) {
      if (daemon.exitCode !== null || daemon.signalCode !== null)
        throw new Error(`the Kubo test node exited: ${node.log}`)
      if (existsSync(join(repo, 'api')) && existsSync(join(repo, 'gateway'))) {
        node.url = `http://${multiaddrHost(await readFile(join(repo, 'api'), 'utf8'))}`
        node.gatewayUrl = (await readFile(join(repo, 'gateway'), 'utf8')).trim()
        try {
          if ((await fetch(`${node.url}/api/v0/version`, { method: 'POST', signal: AbortSignal.timeout(2000) })).ok)
            break
        } catch {}
      }
      if (Date.now() > deadline) {
        daemon.kill('SIGKILL')
        throw new Error(`the Kubo test node did not answer within 60 s: ${node.log}`)
      }
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }
  const halt = async () => {
    if (daemon.exitCode !== null || daemon.signalCode !== null) return
    daemon.kill('SIGTERM') // Kubo shuts down gracefully on SIGTERM
    const timer = setTimeout(() => daemon.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }
  /** Keeps the ports of the first start, so that a restarted node answers at the same URLs. */
  const keepPorts = async () => {
    const current = JSON.parse(await readFile(configPath, 'utf8'))
    current.Addresses.API = `/ip4/127.0.0.1/tcp/${new URL(node.url).port}`
    current.Addresses.Gateway = `/ip4/127.0.0.1/tcp/${new URL(node.gatewayUrl).port}`
    await writeFile(configPath, JSON.stringify(current, null, 2))
  }
  await launch()
  return Object.assign(node, {
    config: async () => JSON.parse(await readFile(configPath, 'utf8')),
    /** A graceful stop and a start on the same repo and ports. */
    async restart() {
      await halt()
      await keepPorts()
      await launch()
    },
    /**
     * `kill -9`, then a start on the same repo and ports (Kubo needs no cleanup after it);
     * `whileDown` runs in between (e.g. to let the requests that were in flight fail).
     */
    async crash(whileDown) {
      daemon.kill('SIGKILL')
      await exited
      await whileDown?.()
      await keepPorts()
      await launch()
    },
    async stop() {
      await halt()
      cancelWatchdog()
      await rm(repo, { recursive: true, force: true })
    }
  })
}

/** The flatfs mount of the repo's `Datastore.Spec` (where the blocks are). */
export function flatfsMount(config) {
  const found = (config.Datastore?.Spec?.mounts ?? [])
    .map(mount => mount.child ?? mount)
    .find(spec => spec.type === 'flatfs')
  if (found === undefined) throw new Error('this repo has no flatfs mount')
  return found
}

function multiaddrHost(multiaddr) {
  const [, proto, host, , port] = multiaddr.trim().split('/')
  return proto === 'ip6' ? `[${host}]:${port}` : `${host}:${port}`
}

async function run(binary, args, env) {
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', d => {
    output += d
  })
  child.stderr.on('data', d => {
    output += d
  })
  const code = await new Promise(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`ipfs ${args.join(' ')} failed (${code}): ${output}`)
}
