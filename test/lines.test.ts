// Lines a reader can see whole: at most 120 characters (Biome formats code to that width; comments are wrapped by
// hand). A string literal is kept whole so that a message or a test's name can be found with grep: its characters do
// not count, the code around it does.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..')
const WIDTH = 120
const FOLDERS = ['src', 'test', 'bench', 'examples']
const SKIP = new Set(['node_modules', 'dist'])

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    if (SKIP.has(entry.name)) return []
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return /\.(ts|mts|cts|mjs|cjs|js)$/.test(entry.name) ? [path] : []
  })
}

/** Per line, how many of its characters belong to string literals (template parts included). */
function stringCharsByLine(path: string, text: string): Map<number, number> {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true)
  const counts = new Map<number, number>()
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      for (let at = node.getStart(file); at < node.getEnd(); ) {
        const { line } = file.getLineAndCharacterOfPosition(at)
        const end = Math.min(node.getEnd(), file.getLineEndOfPosition(at))
        counts.set(line, (counts.get(line) ?? 0) + (end - at))
        at = end + 1
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return counts
}

describe('line width', () => {
  it(`no line is wider than ${WIDTH} characters, strings kept whole aside`, () => {
    const offenders: string[] = []
    for (const path of FOLDERS.flatMap(folder => sources(join(ROOT, folder)))) {
      const text = readFileSync(path, 'utf8')
      const lines = text.split('\n')
      if (!lines.some(line => line.length > WIDTH)) continue
      const strings = stringCharsByLine(path, text)
      lines.forEach((line, i) => {
        if (line.length - (strings.get(i) ?? 0) > WIDTH) offenders.push(`${relative(ROOT, path)}:${i + 1}`)
      })
    }
    expect(offenders).toEqual([])
  })
})
