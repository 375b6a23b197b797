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
import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { createInterface } from 'node:readline'
import { ConfigError } from '../../core/errors.js'

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
  /** Mapping lines that name no execution id (`{id}.jpg`) or no SHA-256. */
  unusable: number
  interrupted: boolean
}

const HEX64 = /^[0-9a-f]{64}$/
const IDENTIFIER = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/

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
  const statement = batchStatement(table, id, options.dryRun === true)
  const report: BackfillReport = {
    lines: 0,
    updated: 0,
    alreadySet: 0,
    conflicts: [],
    noRow: 0,
    unusable: 0,
    interrupted: false
  }
  for await (const batch of batches(mapping, options.batchSize ?? 1000, report, options.signal)) {
    await writeBatch(db, statement, batch, report)
    options.onProgress?.(report)
  }
  return report
}

/**
 * The mapping's lines, as batches of execution id → SHA-256 (an id that comes again with another
 * SHA-256 starts a new batch); lines that name no execution are counted as unusable. A signal ends
 * it, without the last batch.
 */
async function* batches(
  mapping: string,
  batchSize: number,
  report: BackfillReport,
  signal: AbortSignal | undefined
): AsyncGenerator<Map<string, string>> {
  let batch = new Map<string, string>()
  const lines = createInterface({ input: createReadStream(mapping), crlfDelay: Infinity })
  try {
    for await (const line of lines) {
      if (signal?.aborted === true) {
        report.interrupted = true
        return
      }
      // the mapping's own line (the stores it is for); what mappings of earlier releases also held: a
      // job's checkpoint, a file that is not an image, a failure
      if (line.trim() === '' || /^\{"(mapping|checkpoint)":|"notImage":true|"failed":"ERR_/.test(line)) continue
      report.lines++
      const entry = parseLine(line)
      if (entry === undefined) report.unusable++
      else {
        // another file for the same execution (original/ and processed/ both imported): in the next
        // batch, so the database reports it as a conflict rather than this batch keep the last silently
        const before = batch.get(entry.executionId)
        if (before !== undefined && before !== entry.sha256) {
          yield batch
          batch = new Map()
        }
        batch.set(entry.executionId, entry.sha256)
      }
      if (batch.size >= batchSize) {
        yield batch
        batch = new Map()
      }
    }
  } finally {
    lines.close()
  }
  if (batch.size > 0) yield batch
}

/**
 * One statement: what each id holds now, and the update of those that hold nothing (none in a dry
 * run). $1 holds the ids, $2 their hashes.
 */
function batchStatement(table: string, id: string, dryRun: boolean): string {
  const update = dryRun
    ? 'SELECT NULL::bigint AS id WHERE false'
    : `UPDATE ${table} t SET image_hash = c.hash FROM current c WHERE t.${id} = c.id AND t.image_hash IS NULL ` +
      `RETURNING t.${id} AS id`
  return `WITH v AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS v(id, hash)),
              current AS (SELECT v.id, v.hash, t.image_hash AS held FROM v JOIN ${table} t ON t.${id} = v.id),
              updated AS (${update})
         SELECT c.id::text, c.hash, c.held, (u.id IS NOT NULL OR c.held IS NULL) AS set_now
         FROM current c LEFT JOIN updated u ON u.id = c.id`
}

/** Writes one batch in its own transaction and counts what each row held. */
async function writeBatch(
  db: Queryable,
  statement: string,
  batch: Map<string, string>,
  report: BackfillReport
): Promise<void> {
  const ids = [...batch.keys()]
  await db.query('BEGIN')
  let rows: Array<{ id: string; hash: string; held: string | null; set_now: boolean }>
  try {
    rows = (await db.query(statement, [ids, ids.map(i => batch.get(i)!)])).rows
    await db.query('COMMIT')
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {})
    throw err
  }
  report.noRow += ids.length - new Set(rows.map(r => r.id)).size
  for (const row of rows) {
    if (row.set_now === true) report.updated++
    else if (row.held === row.hash) report.alreadySet++
    else if (report.conflicts.length < 100)
      report.conflicts.push({ executionId: row.id, inDatabase: row.held!, inMapping: row.hash })
  }
}

/** `{"source":"original/410/410000.jpg","sha256":"…"}` → execution 410000. */
function parseLine(line: string): { executionId: string; sha256: string } | undefined {
  let entry: { source?: unknown; sha256?: unknown; hash?: unknown }
  try {
    entry = JSON.parse(line)
  } catch {
    return undefined // a torn last line of an interrupted import
  }
  // mappings before 0.2 had only `hash` (fs: the SHA-256)
  const sha256 = typeof entry.sha256 === 'string' ? entry.sha256 : entry.hash
  const match = typeof entry.source === 'string' ? /^(\d{1,18})\.[a-z]+$/i.exec(basename(entry.source)) : null
  if (match === null || typeof sha256 !== 'string' || !HEX64.test(sha256)) return undefined
  return { executionId: match[1]!.replace(/^0+(?=\d)/, ''), sha256 }
}

function identifier(name: string, option: string): string {
  if (!IDENTIFIER.test(name))
    throw new ConfigError(option, `not a plain lower-case SQL identifier: ${JSON.stringify(name)}`)
  return name
}
