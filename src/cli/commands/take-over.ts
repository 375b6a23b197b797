/**
 * `take-over`: a rebuilt primary (a new disk, so a new state folder and host id) becomes the owner
 * of the replicas its old self owned, to restore from them. Explicit: it names the old host id.
 */
import { type HostIdentity, type ReplicaOwner, replicaOwners, takeOver } from '../../features/replication/index.js'
import { storeLine, type Context } from '../context.js'
import { replicated } from './replication.js'

export async function takeOverCommand(cli: Context): Promise<number> {
  const storage = await replicated(cli)
  const from = cli.string('from')
  if (from === undefined) {
    const { me, replicas } = await replicaOwners(storage)
    const others = replicas.filter(r => r.state === 'other')
    cli.out(
      `${ownerLines(replicas, me)}\n` +
        (others.length === 0
          ? 'nothing to take over: no other host owns a replica of this store'
          : `nothing changed: to take ${others.length === 1 ? 'it' : 'them'} over (that host is gone for good), ` +
            `run sai-images take-over --from ${others[0]!.owner!.id}`) +
        `\n${storeLine(storage)}`,
      { command: 'take-over', me, replicas, takenOver: false, store: storage.location }
    )
    return others.length === 0 ? 0 : 2
  }
  const { me, replicas } = await takeOver(storage, from)
  cli.out(
    `${ownerLines(replicas, me, true)}\n` +
      'restore the frames from the replicas: sai-images verify --repair --force (or let reads heal them)' +
      `\n${storeLine(storage)}`,
    { command: 'take-over', me, replicas, takenOver: true, store: storage.location }
  )
  return 0
}

/** A line per replica, with its owner before (`done`: after a take-over), and one for this primary. */
function ownerLines(replicas: ReplicaOwner[], me: HostIdentity, done = false): string {
  const who = (o: HostIdentity): string => `${o.hostname} (host id ${o.id}, state folder ${o.stateDir})`
  const line = (r: ReplicaOwner): string => {
    if (r.state === 'unchecked') return 'not checked: its driver keeps no owner mark (memory)'
    if (r.state === 'mine') return `${done ? 'already ' : ''}this primary's since ${r.owner!.since}`
    if (r.state === 'none') return done ? "marked as this primary's (it had no owner)" : 'no owner yet'
    return `${done ? 'taken over from' : 'owned by'} ${who(r.owner!)}, its owner since ${r.owner!.since}`
  }
  return [...replicas.map(r => `${r.replica} (${r.location}): ${line(r)}`), `this primary: ${who(me)}`].join('\n')
}
