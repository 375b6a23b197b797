/**
 * What a resolved store survives on this node, read from its `Datastore.Spec` (`config/show`).
 *
 * Kubo writes pins and the MFS root to leveldb with a sync on each write, but since 0.33 its
 * default flatfs (where the blocks are) does not sync (`"sync": false`): an acknowledged store
 * survives a crash of Kubo (the page cache keeps the blocks), not a power cut, after which a pin
 * or an index entry can point at blocks that never reached the disk. With `"sync": true` on the
 * flatfs mount the blocks are synced before the pin is written. pebble (`pebbleds`) syncs its
 * log when the pin is written, and leveldb syncs every write.
 */
import type { KuboConnection } from './client.js'

export interface NodeDurability {
  /** Whether a resolved store survives a power cut; undefined where the spec does not tell. */
  powerCutSafe: boolean | undefined
  /** The datastore that holds the blocks: `flatfs`, `pebbleds`, `levelds`, … */
  blocks: string | undefined
  /** The flatfs mount's `sync`, where the blocks are on flatfs. */
  flatfsSync?: boolean
  /** What to change, when it is not safe. */
  advice?: string
}

const SAFE: Record<string, boolean> = { levelds: true, pebbleds: true }

export const FLATFS_SYNC_ADVICE =
  'set "sync": true on the flatfs datastore in Datastore.Spec of the node\'s config ' +
  '(a repo made by Kubo 0.43: jq \'.Datastore.Spec.mounts[0].sync = true\' "$IPFS_PATH/config"), then restart the node'

export async function durabilityOf(rpc: KuboConnection, signal?: AbortSignal): Promise<NodeDurability> {
  const config = rpc.json<{ Datastore?: { Spec?: Spec } }>(await rpc.send('config/show', {}, { signal }))
  const spec = blocksSpec(config?.Datastore?.Spec)
  const blocks = spec?.type
  if (blocks === 'flatfs') {
    const flatfsSync = spec!.sync === true
    return flatfsSync
      ? { powerCutSafe: true, blocks, flatfsSync }
      : { powerCutSafe: false, blocks, flatfsSync, advice: FLATFS_SYNC_ADVICE }
  }
  return { powerCutSafe: blocks === undefined ? undefined : SAFE[blocks], blocks }
}

interface Spec {
  type?: string
  sync?: boolean
  mountpoint?: string
  child?: Spec
  mounts?: Spec[]
}

/**
 * The spec of the datastore under `/blocks`: the mount for it, else the one under `/`, unwrapped from `measure` and
 * `log`.
 */
function blocksSpec(spec: Spec | undefined): Spec | undefined {
  if (spec === undefined) return undefined
  if (spec.type === 'mount') {
    const mounts = spec.mounts ?? []
    return blocksSpec(mounts.find(m => m.mountpoint === '/blocks') ?? mounts.find(m => m.mountpoint === '/'))
  }
  return spec.child !== undefined ? blocksSpec(spec.child) : spec
}

export const NOT_POWER_CUT_SAFE = 'IPFS_NOT_POWER_CUT_SAFE'
/** The nodes warned about in this process. */
const warned = new Set<string>()

/**
 * Checks the node when a driver first stores: a process warning (`IPFS_NOT_POWER_CUT_SAFE`),
 * once per node, where an acknowledged store would not survive a power cut. A node that does not
 * show its config (an `API.Authorizations` token without `config/show`) is left unchecked: stores
 * do not depend on it.
 */
export async function warnIfNotPowerCutSafe(rpc: KuboConnection): Promise<void> {
  if (warned.has(rpc.apiUrl)) return
  const found = await durabilityOf(rpc).catch(() => undefined)
  if (found?.powerCutSafe !== false || warned.has(rpc.apiUrl)) return
  warned.add(rpc.apiUrl)
  process.emitWarning(
    `the IPFS node at ${rpc.apiUrl} keeps its blocks on flatfs without "sync": a store survives a crash of the node, not a power cut; ${found.advice ?? ''}`,
    { code: NOT_POWER_CUT_SAFE }
  )
}
