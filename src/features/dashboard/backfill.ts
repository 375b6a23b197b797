/**
 * The dashboard's `execution_images.image_hash`: the migration that adds it, and the back-fill
 * that fills it for frames stored before, from `sai-images import`'s mapping of the dashboard's
 * `original/{floor(id/1000)}/{id}.jpg` tree. Takes any client with pg's `query`; knows no driver.
 *
 * @example
 * ```ts
 * const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
 * await client.connect()
 * await addImageHashColumn(client)
 * const report = await backfillImageHashes(client, 'sai-images-import-original-1a2b3c4d.jsonl')
 * ```
 */
import { ConfigError } from '../../core/errors.js'
import { batches, type Entry } from './mapping-lines.js'
import { SQL_NAME } from './sql-name.js'

/** What the back-fill needs of a database client: `pg.Client` and `pg.Pool` have it. */
export interface Queryable {
  query: (text: string, values?: unknown[]) => Promise<{ rows: any[]; rowCount: number | null }>
}

export interface BackfillOptions {
  /** Default `execution_images`. */
  table?: string
  /** Default `execution_id`. */
  idColumn?: string
  /** Rows updated per transaction; default 1000. */
  batchSize?: number
  /** Count what would change, change nothing. */
  dryRun?: boolean
  signal?: AbortSignal
  onProgress?: (report: BackfillReport) => void
}

export interface BackfillReport {
  /** Lines of the mapping read. */
  lines: number
  /** Rows given their hash by this run. */
  updated: number
  /** Rows that had the same hash already (an earlier run): nothing to do. */
  alreadySet: number
  /** Rows that hold a different hash: left alone, listed by execution id (first 100). */
  conflicts: Array<{ executionId: string; inDatabase: string; inMapping: string }>
  /** Mapping lines whose execution id has no row. */
  noRow: number
  /**
   * Mapping lines whose execution's row names another file (`original_path`, where the table has it): left alone.
   * A mapping of `processed/` names no row's file; one of the whole image tree names both.
   */
  otherFile: number
  /** Mapping lines that name no execution id (`{id}.jpg`) or no SHA-256. */
  unusable: number
  interrupted: boolean
}

/**
 * Adds `image_hash` (64 lower-case hex characters, or NULL until back-filled), its CHECK and an
 * index. Idempotent: run it on every deploy.
 */
export async function addImageHashColumn(db: Queryable, table = 'execution_images'): Promise<void> {
  const t = identifier(table, 'table')
  const name = t.replace('.', '_')
  await db.query(`ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS image_hash char(64)`)
  await db.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '${name}_image_hash_sha256') THEN
      ALTER TABLE ${t} ADD CONSTRAINT ${name}_image_hash_sha256 CHECK (image_hash ~ '^[0-9a-f]{64}$');
    END IF;
  END $$`)
  await db.query(`CREATE INDEX IF NOT EXISTS ${name}_image_hash_idx ON ${t} (image_hash)`)
}

/**
 * Sets `image_hash` by execution id from an import mapping, a batch per transaction. Rows that
 * already hold the hash are counted, not written, so a rerun changes nothing and an interrupted
 * run resumes where it stopped; a row that holds another hash is reported and left alone.
 */
export async function backfillImageHashes(
  db: Queryable,
  mapping: string,
  options: BackfillOptions = {}
): Promise<BackfillReport> {
  const table = identifier(options.table ?? 'execution_images', 'table')
  const id = identifier(options.idColumn ?? 'execution_id', 'idColumn')
  const withPath = await hasOriginalPath(db, table)
  const statement = batchStatement(table, id, options.dryRun === true, withPath)
  const report: BackfillReport = {
    lines: 0,
    updated: 0,
    alreadySet: 0,
    conflicts: [],
    noRow: 0,
    otherFile: 0,
    unusable: 0,
    interrupted: false
  }
  // a dry run writes nothing, so a later batch cannot see what an earlier one would have set: it is told
  const wouldSet = new Map<string, string>()
  for await (const batch of batches(mapping, options.batchSize ?? 1000, report, options.signal)) {
    await writeBatch(db, statement, batch, report, options.dryRun === true ? wouldSet : undefined)
    options.onProgress?.(report)
  }
  return report
}

/** Whether rows name their file (`original_path`, the dashboard's): a line then sets only the row of its own file. */
async function hasOriginalPath(db: Queryable, table: string): Promise<boolean> {
  const [schema, name] = table.includes('.') ? table.split('.') : [undefined, table]
  const found = await db.query(
    `SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = 'original_path'
       AND table_schema = coalesce($2, current_schema())`,
    [name, schema ?? null]
  )
  return (found.rowCount ?? 0) > 0
}

/**
 * One statement: what each id holds now, and the update of those that hold nothing (none in a dry
 * run). $1 holds the ids, $2 their hashes.
 */
function batchStatement(table: string, id: string, dryRun: boolean, withPath: boolean): string {
  // the row's file and the line's are one when either path ends with the other at a folder's boundary (a row's
  // `original/410/410000.jpg` and a line's `original/410/410000.jpg`, or `images/original/…` of a wider import)
  const same = withPath
    ? `(t.original_path = v.path OR right(v.path, length(t.original_path) + 1) = '/' || t.original_path
        OR right(t.original_path, length(v.path) + 1) = '/' || v.path)`
    : 'true'
  const update = dryRun
    ? 'SELECT NULL::bigint AS id WHERE false'
    : `UPDATE ${table} t SET image_hash = c.hash FROM current c WHERE t.${id} = c.id AND t.image_hash IS NULL ` +
      `AND c.same RETURNING t.${id} AS id`
  // a real run's row is set if its update says so: one another writer filled meanwhile is not (its snapshot lied)
  return `WITH v AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS v(id, hash, path)),
              current AS (SELECT v.id, v.hash, t.image_hash AS held, coalesce(${same}, false) AS same
                          FROM v JOIN ${table} t ON t.${id} = v.id),
              updated AS (${update})
         SELECT c.id::text, c.hash, c.held, c.same, ${dryRun ? 'c.held IS NULL' : 'u.id IS NOT NULL'} AS set_now
         FROM current c LEFT JOIN updated u ON u.id = c.id`
}

/** Writes one batch in its own transaction and counts what each row held. */
async function writeBatch(
  db: Queryable,
  statement: string,
  batch: Map<string, Entry>,
  report: BackfillReport,
  wouldSet?: Map<string, string>
): Promise<void> {
  const ids = [...batch.keys()]
  const entries = ids.map(i => batch.get(i)!)
  await db.query('BEGIN')
  let rows: Array<{ id: string; hash: string; held: string | null; same: boolean; set_now: boolean }>
  try {
    rows = (await db.query(statement, [ids, entries.map(e => e.sha256), entries.map(e => e.path)])).rows
    await db.query('COMMIT')
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {})
    throw err
  }
  report.noRow += ids.length - new Set(rows.map(r => r.id)).size
  for (const row of rows) {
    const held = row.held ?? wouldSet?.get(row.id) ?? null // (a dry run's earlier batch)
    if (!row.same) report.otherFile++
    else if (row.set_now === true && held === null) {
      report.updated++
      wouldSet?.set(row.id, row.hash)
    } else if (held === row.hash) report.alreadySet++
    else if (report.conflicts.length < 100)
      report.conflicts.push({
        executionId: row.id,
        inDatabase: held ?? '(set by another writer meanwhile)',
        inMapping: row.hash
      })
  }
}

function identifier(name: string, option: string): string {
  if (!SQL_NAME.test(name))
    throw new ConfigError(option, `not a plain lower-case SQL identifier: ${JSON.stringify(name)}`)
  return name
}
