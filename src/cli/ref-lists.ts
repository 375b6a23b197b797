/**
 * The refs an operator gives in bulk: the lines of list files (a SHA-256 in either case, a key path,
 * a CID; blank lines and `#` comments skipped) and the first column of a query's rows. A line or a
 * row that names no object (a NULL, an id, an absolute path) is a bad line: the commands stop on it
 * before they change anything (exit 2), unless told to skip such lines.
 */
import { type BadLine, parseListLine, readRefFiles } from '../features/retention/keep.js'
import { UsageError } from './context.js'
import { connectDatabase, databaseError } from './database.js'

/** Each ref of `files` (through `readRefFiles`) and of `sql`'s first column, in their order; bad lines as `bad`. */
export async function readRefLists(
  files: string[],
  sql: { query?: string; option: string; files?: string },
  onRef: (ref: string) => void
): Promise<{ bad: BadLine[]; badLines: number }> {
  const read = await readRefFiles(files, { add: onRef }, sql.files)
  const { bad } = read
  let { badLines } = read
  if (sql.query === undefined) return { bad, badLines }
  const db = await connectDatabase()
  try {
    const result = await db.query(sql.query).catch((err: unknown) => {
      throw databaseError(err, 'check the query', sql.option)
    })
    const first = (result as unknown as { fields: Array<{ name: string }> }).fields[0]?.name
    if (first === undefined) throw new UsageError(`${sql.option} must return at least one column (the refs)`)
    result.rows.forEach((row, i) => {
      const value = row[first]
      const ref = typeof value === 'string' ? parseListLine(value) : undefined
      const named = ref?.sha256 ?? ref?.other
      if (named !== undefined) onRef(named)
      else if (badLines++ < 10)
        bad.push({ file: `${sql.option} row`, line: i + 1, text: value == null ? 'NULL' : String(value).slice(0, 100) })
    })
  } finally {
    await db.end()
  }
  return { bad, badLines }
}

/** The bad lines, listed (the first 10, and how many more). */
export function badLinesText(bad: BadLine[], badLines: number): string {
  return (
    bad.map(b => `\n  ${b.file}:${b.line}: ${JSON.stringify(b.text)}`).join('') +
    (badLines > bad.length ? `\n  … ${badLines - bad.length} more` : '')
  )
}
