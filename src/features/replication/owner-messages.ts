/**
 * What the owner check (owner.ts) tells a user: the refusal of a second primary, the take-over that
 * lost a race, a mark that cannot be read. Each names the hosts and says what to do.
 */
import { ConfigError } from '../../core/errors.js'
import type { HostIdentity, ReplicaOwner } from './owner.js'

/**
 * A take-over that lost: another host's take-over of the replica won at the same moment (a mark is
 * swapped only if it is still the one read: core/marks.ts). `winner` is the replica's owner now;
 * `taken` the replicas this take-over did make its own before (with several replicas, each is raced
 * apart).
 */
export class TakeOverConflictError extends ConfigError {
  constructor(
    readonly replica: string,
    readonly winner: HostIdentity,
    readonly taken: string[],
    me: HostIdentity,
    location: string
  ) {
    super(
      '--from',
      `another take-over of replica ${replica} (${location}) won at the same moment: it belongs to ` +
        `${who(winner)} since ${winner.since}; this primary is ${who(me)}. Nothing of this primary's was ` +
        `written there. ${taken.length === 0 ? 'No replica was' : `Replicas ${taken.join(', ')} were`} ` +
        'taken over by this primary. Keep one primary: on the one that should not own it, stop the ' +
        'service; on the one that should, run sai-images take-over --from <the other host id>'
    )
  }
}

function who(o: HostIdentity): string {
  return `${o.hostname} (host id ${o.id}, state folder ${o.stateDir})`
}

export function refusal(o: ReplicaOwner, me: HostIdentity): string {
  const { id, hostname, stateDir, since } = o.owner!
  return (
    `replica ${o.replica} (${o.location}) belongs to another primary: ${hostname} (host id ${id}, state ` +
    `folder ${stateDir}), its owner since ${since}; this primary is ${me.hostname} (host id ${me.id}, ` +
    `state folder ${me.stateDir})`
  )
}

export function refused(o: ReplicaOwner, me: HostIdentity): ConfigError {
  const { id, hostname, stateDir } = o.owner!
  const same =
    hostname === me.hostname && stateDir === me.stateDir
      ? ' That host is this one, with this very state folder: its host-id is gone, so the folder was ' +
        'wiped or replaced (a new disk, or an array that is not mounted?).'
      : ''
  return new ConfigError(
    'replicas',
    `${refusal(o, me)}.${same} A replica is not shared between primaries ` +
      '(docs/replication.md#one-primary-per-replica): give each host its own prefix or folder ' +
      '(SAI_S3_PREFIX, SAI_IMAGE_STORAGE_REPLICA_PATH) in the same bucket or disk, or its own Kubo node. ' +
      'If that host is gone for good (its disk replaced, this one restored in its place), take the replica ' +
      `over: sai-images take-over --from ${id}. Nothing was written`
  )
}

/** A mark or identity as written; one that cannot be read is `ERR_CONFIG` (never taken for nobody's). */
export function parseOwner(text: string, where: string): HostIdentity {
  try {
    const owner = JSON.parse(text) as HostIdentity
    if (typeof owner.id === 'string' && owner.id !== '' && typeof owner.hostname === 'string') return owner
  } catch {}
  throw new ConfigError(
    'replicas',
    `the owner mark or host id at ${where} cannot be read (${JSON.stringify(text.slice(0, 80))}): ` +
      'see docs/replication.md#one-primary-per-replica'
  )
}
