/** A PostgreSQL connection for the commands that need one, from DATABASE_URL; `pg` is an optional peer. */
import { ConfigError } from '../core/errors.js'
import { serviceUnavailable } from '../core/unavailable.js'
import { optionalPeer } from '../core/optional-peer.js'
import type { Queryable } from '../features/dashboard/backfill.js'

export interface Database extends Queryable {
  end: () => Promise<void>
}

const loadPg = optionalPeer({
  neededBy: 'this command',
  setting: 'DATABASE_URL',
  install: 'pg',
  load: async () => (await import('pg')).default,
  require: () => require('pg')
})

export async function connectDatabase(url = process.env.DATABASE_URL): Promise<Database> {
  if (url === undefined || url === '')
    throw new ConfigError('DATABASE_URL', 'not set: the PostgreSQL connection string, e.g. postgres://user@host/db')
  const { Client } = await loadPg()
  const client = new Client({ connectionString: url })
  try {
    await client.connect()
  } catch (err) {
    throw serviceUnavailable(err, {
      service: 'Database',
      where: where(url),
      why: (err as Error).message,
      advice: 'Check DATABASE_URL',
      secrets: [url, password(url)]
    })
  }
  return client as unknown as Database
}

/** host:port/db, never the credentials. */
function where(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port === '' ? '5432' : u.port}${u.pathname}`
  } catch {
    return 'DATABASE_URL'
  }
}

function password(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password)
  } catch {
    return ''
  }
}

/** A PostgreSQL error as ours: a missing table or column is the operator's to fix (ERR_CONFIG). */
export function databaseError(err: unknown, hint: string, option = '--table'): unknown {
  const code = (err as { code?: unknown })?.code
  // a SQLSTATE is 5 digits or capitals (42P01, 08006, XX000); an errno such as EPERM or EROFS is not one
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code) || /^E[A-Z]+$/.test(code)) return err
  const message = (err as Error).message
  if (code === '42P01' || code === '42703') return new ConfigError(option, `${message}: ${hint}`)
  return serviceUnavailable(err, {
    service: 'Database',
    where: 'DATABASE_URL',
    why: `it refused: ${message} (SQLSTATE ${code})`
  })
}
