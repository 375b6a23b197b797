/**
 * This primary's identity (`{state}/host-id`): a random id and the hostname, made durably once per state
 * folder (a lost one would lock it out of its own replicas). Its replicas' marks name it (owner.ts).
 */
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { createText } from '../../core/durable-text.js'
import { isMissing } from '../../core/errors.js'
import { StateLayout } from './layout.js'
import { parseOwner } from './owner-messages.js'
import type { HostIdentity } from './owner.js'

/** Read, or made now if there is none (of two processes making it at once, the first's stands). */
export async function readOrMakeIdentity(stateDir: string): Promise<HostIdentity> {
  const found = await readIdentity(stateDir)
  if (found !== undefined) return found
  const path = new StateLayout(stateDir).hostId
  const made: HostIdentity = {
    id: randomUUID(),
    hostname: hostname(),
    stateDir,
    since: new Date().toISOString()
  }
  if (await createText(path, `${JSON.stringify(made)}\n`)) return made
  return parseOwner(await readFile(path, 'utf8'), path) // another process made it first
}

/** Read, or undefined if there is none yet (nothing is made). */
export async function readIdentity(stateDir: string): Promise<HostIdentity | undefined> {
  const path = new StateLayout(stateDir).hostId
  try {
    return parseOwner(await readFile(path, 'utf8'), path)
  } catch (err) {
    if (!isMissing(err)) throw err
    return undefined
  }
}

/** This host before its identity is made (for a refusal's message): `none yet`. */
export function unmadeIdentity(stateDir: string): HostIdentity {
  return { id: 'none yet', hostname: hostname(), stateDir, since: '' }
}
