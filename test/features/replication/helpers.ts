// What the replication tests share: two real filesystem stores replicated one to the other, a
// logger that keeps what it is told, and the damage a disk does to a file.
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../../../src/core/logger.js'
import { FilesystemDriver } from '../../../src/drivers/fs/index.js'
import { createReplicatedStorage, type ReplicatedStorage } from '../../../src/features/replication/index.js'
import type { ReplicatedStorageInit } from '../../../src/features/replication/types.js'
import { tempDir } from '../../infra/helpers/tmp.js'

export const DAY = 24 * 3600 * 1000

export interface Logged {
  level: string
  fields: Record<string, unknown>
  message?: string
}

/** A logger that keeps every call. */
export function keepingLogger(): { logger: Logger; logged: Logged[] } {
  const logged: Logged[] = []
  const logger = Object.fromEntries(
    ['debug', 'info', 'warn', 'error'].map(level => [
      level,
      (fields: Record<string, unknown>, message: string) => {
        logged.push({ level, fields, message })
      }
    ])
  ) as unknown as Logger
  return { logger, logged }
}

export interface Pair {
  storage: ReplicatedStorage
  primary: FilesystemDriver
  replica: FilesystemDriver
  /** The state folder: `.replication` under the primary's root. */
  state: string
}

/** A primary and a replica (`copy`), each a real filesystem store; no background copier unless asked. */
export async function pair(init: Partial<Omit<ReplicatedStorageInit, 'primary' | 'replicas'>> = {}): Promise<Pair> {
  const primary = new FilesystemDriver({ root: await tempDir('sai-primary') })
  const replica = new FilesystemDriver({ root: await tempDir('sai-replica') })
  const storage = createReplicatedStorage({
    primary,
    replicas: [{ name: 'copy', storage: replica }],
    background: false,
    ...init
  })
  return { storage, primary, replica, state: join(primary.root, '.replication') }
}

/** A byte in the middle of the file, flipped. */
export async function flip(path: string, at?: number, mask = 0x20): Promise<void> {
  const bytes = await readFile(path)
  const i = at ?? bytes.length >> 1
  bytes[i] = bytes[i]! ^ mask
  await writeFile(path, bytes)
}

export function sha256Of(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The names in a folder, sorted; none if it does not exist. */
export async function namesIn(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/**
 * Gives the primary at `root` the identity `id` (owner.ts), before its first use: the primaries a
 * test file makes with one id are one host, so that they may share a replica that only one host may
 * own (an IPFS node: its mark is the node's).
 */
export async function asHost(root: string, id: string): Promise<void> {
  const state = join(root, '.replication')
  await mkdir(state, { recursive: true })
  const identity = { id, hostname: hostname(), stateDir: state, since: new Date().toISOString() }
  await writeFile(join(state, 'host-id'), `${JSON.stringify(identity)}\n`)
}
