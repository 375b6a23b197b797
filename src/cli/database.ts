/** A PostgreSQL connection for the commands that need one, from DATABASE_URL; `pg` is an optional peer. */
import { ConfigError, StorageUnavailableError } from '../core/errors.js'
import type { Queryable } from '../dashboard/backfill.js'

export interface Database extends Queryable {
  end: () => Promise<void>
}

export async function connectDatabase (url = process.env.DATABASE_URL): Promise<Database> {
  if (url === undefined || url === '') throw new ConfigError('DATABASE_URL', 'not set: the PostgreSQL connection string, e.g. postgres://user@host/db')
  let Client: typeof import('pg').Client
  try {
    Client = (await import('pg')).default.Client
  } catch {
    throw new ConfigError('DATABASE_URL', 'needs the pg package: npm install pg')
  }
  const client = new Client({ connectionString: url })
  try {
    await client.connect()
  } catch (err) {
    const at = where(url)
    throw new StorageUnavailableError(`The database at ${at} cannot be reached: ${(err as Error).message.replaceAll(url, at)}. Check DATABASE_URL.`, at, { cause: err })
  }
  return client as unknown as Database
}

/** host:port/db, never the credentials. */
function where (url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port === '' ? '5432' : u.port}${u.pathname}`
  } catch {
    return 'DATABASE_URL'
  }
}

/** A PostgreSQL error as ours: a missing table or column is the operator's to fix (ERR_CONFIG). */
export function databaseError (err: unknown, hint: string, option = '--table'): unknown {
  const code = (err as { code?: unknown })?.code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return err
  const message = (err as Error).message
  if (code === '42P01' || code === '42703') return new ConfigError(option, `${message}: ${hint}`)
  return new StorageUnavailableError(`The database refused: ${message} (SQLSTATE ${code})`, 'DATABASE_URL', { cause: err })
}
