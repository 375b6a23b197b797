// The bench's summary: every target of every bench/results*.json, and whether it holds, with the
// date of the run that measured it. Writes bench/RESULTS-summary.md. Run last in `npm run bench`.
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const here = new URL('.', import.meta.url).pathname
const files = (await readdir(here)).filter(f => /^results(-[a-z-]+)?\.json$/.test(f) && !f.includes('quick')).sort()
const rows = []
/** A table cell: a `|` inside it ("find | xargs") would split the row. */
const cell = value => String(value).replaceAll('|', '\\|')
for (const file of files) {
  const results = JSON.parse(await readFile(join(here, file), 'utf8'))
  for (const t of results.targets ?? [])
    rows.push(
      `| ${file.replace(/\.json$/, '')} | ${cell(t.name)} | ${cell(t.value)} | ${cell(t.limit)} | ${t.met ? 'yes' : '**no**'} | ` +
        `${(results.date ?? '').slice(0, 10)} |`
    )
}
const met = rows.filter(r => r.includes('| yes |')).length
await writeFile(
  join(here, 'RESULTS-summary.md'),
  `# Every bench target, and whether it holds

${met} of ${rows.length} targets met, each as its bench last measured it (\`npm run bench\`; the date of that run).

| bench | target | value | limit | met | measured |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}
`
)
console.log(`${met} of ${rows.length} targets met: bench/RESULTS-summary.md`)
