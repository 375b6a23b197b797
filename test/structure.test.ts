// The floors of the architecture (shared/STYLE.md), checked on every import of the source: core,
// then drivers, then features, then the surfaces; arrows point down only.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const SRC = resolve(new URL('../src', import.meta.url).pathname)

function files(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : []
  })
}

/** Each file's room: `core`, `drivers/<name>`, `features/<name>`, `testing`, `cli`, or `index` (the main entry). */
function roomOf(path: string): { floor: number; room: string } {
  const [top, name] = relative(SRC, path).split('/')
  if (top === 'core') return { floor: 1, room: 'core' }
  if (top === 'drivers') return { floor: 2, room: `drivers/${name}` }
  if (top === 'features') return { floor: 3, room: `features/${name}` }
  if (top === 'testing') return { floor: 3, room: 'testing' }
  if (top === 'cli') return { floor: 4, room: 'cli' }
  return { floor: 4, room: 'index' }
}

const imports = files(SRC).flatMap(file =>
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b[^'"]*?from '(\.[^']+)'/gm)].map(match => {
    const target = resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts'))
    return { from: relative(SRC, file), to: relative(SRC, target), source: roomOf(file), target: roomOf(target) }
  })
)

describe('the floors of the source tree', () => {
  it('finds the imports it checks', () => {
    expect(imports.length).toBeGreaterThan(200)
    expect(imports.some(i => i.source.room === 'drivers/fs' && i.target.room === 'core')).toBe(true)
  })

  it('nothing imports upward', () => {
    expect(imports.filter(i => i.target.floor > i.source.floor).map(i => `${i.from} -> ${i.to}`)).toEqual([])
  })

  it('a driver imports only the core and itself, never another driver', () => {
    expect(
      imports
        .filter(i => i.source.floor === 2 && i.target.room !== 'core' && i.target.room !== i.source.room)
        .map(i => `${i.from} -> ${i.to}`)
    ).toEqual([])
  })

  it(
    "features and surfaces know no driver's insides: only the factory (and the main entry) imports a " +
      'driver, by its index',
    () => {
      const reaching = imports.filter(i => i.source.floor >= 3 && i.target.floor === 2)
      expect(reaching.length).toBeGreaterThan(0)
      expect(
        reaching
          .filter(i => !(['features/factory', 'index'].includes(i.source.room) && i.to.endsWith('/index.ts')))
          .map(i => `${i.from} -> ${i.to}`)
      ).toEqual([])
    }
  )

  it('a feature imports no other feature but the factory, the retention and the jobs it builds on', () => {
    // (replication builds on retention's keep sets and the jobs' mapping is its own: listed here when
    // a feature needs another)
    const allowed = new Set([
      'features/factory -> features/replication',
      'features/replication -> features/retention',
      'features/http -> features/variants'
    ])
    const across = imports.filter(i => i.source.floor === 3 && i.target.floor === 3 && i.source.room !== i.target.room)
    expect(
      across.filter(i => !allowed.has(`${i.source.room} -> ${i.target.room}`)).map(i => `${i.from} -> ${i.to}`)
    ).toEqual([])
  })

  it('no class is told apart by instanceof of a driver outside its own folder', () => {
    const offenders = files(SRC).filter(
      file =>
        roomOf(file).floor !== 2 &&
        /instanceof (FilesystemDriver|S3Driver|IpfsDriver|MemoryDriver)\b/.test(readFileSync(file, 'utf8'))
    )
    expect(offenders.map(f => relative(SRC, f))).toEqual([])
  })

  it('every source file holds one concern: about 10 KB at most', () => {
    expect(
      files(SRC)
        .filter(file => statSync(file).size > 11_000)
        .map(f => `${relative(SRC, f)}: ${statSync(f).size} B`)
    ).toEqual([])
  })
})

/**
 * Every function (declaration, method, arrow, accessor) that spans more than `limit` lines, nested
 * ones counted in their parent's span, as `path:line name (N lines)`.
 */
function longFunctions(
  path: string,
  text: string,
  limit: number,
  exempt: (path: string, node: ts.Node) => boolean = () => false
): string[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true)
  const found: string[] = []
  const lineOf = (position: number): number => source.getLineAndCharacterOfPosition(position).line + 1
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const [first, last] = [lineOf(node.getStart(source)), lineOf(node.getEnd())]
      const named = node.name ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name : undefined)
      if (last - first + 1 > limit && !exempt(path, node))
        found.push(`${path}:${first} ${named?.getText(source) ?? '(anonymous)'} (${last - first + 1} lines)`)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/**
 * A list of test cases: a function of the conformance suite whose body only registers cases, each
 * statement a `test(...)` or `it(...)` call. Such a list reads as a table of contents however long it
 * grows (the issue exempts it); each case's own function is still measured.
 */
function isCaseList(path: string, node: ts.Node): boolean {
  if (!path.startsWith('testing/conformance/') || !ts.isFunctionDeclaration(node) || node.body === undefined)
    return false
  return node.body.statements.every(
    statement =>
      ts.isExpressionStatement(statement) &&
      ts.isCallExpression(statement.expression) &&
      ts.isIdentifier(statement.expression.expression) &&
      ['test', 'it'].includes(statement.expression.expression.text)
  )
}

describe('functions a reader can hold', () => {
  it('the measure counts a function from its first line to its last, nested functions inside their parent', () => {
    const body = Array.from({ length: 59 }, (_, i) => `  const a${i} = ${i}`).join('\n')
    const text = `export function outer() {\n${body}\n  const inner = () => {\n    return 1\n  }\n}\n`
    expect(longFunctions('x.ts', text, 60)).toEqual(['x.ts:1 outer (64 lines)'])
    expect(longFunctions('x.ts', text, 64)).toEqual([])
    expect(longFunctions('y.ts', 'class A {\n  m() {\n\n\n  }\n}\n', 3)).toEqual(['y.ts:2 m (4 lines)'])
  })

  it('a conformance case list is exempt, and only a function that does nothing but register cases', () => {
    const cases = Array.from({ length: 30 }, (_, i) => `  test('case ${i}', async () => {\n    await run(${i})\n  })`)
    const list = `export function someCases({ test }) {\n${cases.join('\n')}\n}\n`
    const mixed = `export function someCases({ test }) {\n  const x = 1\n${cases.join('\n')}\n}\n`
    expect(longFunctions('testing/conformance/a.ts', list, 60, isCaseList)).toEqual([])
    expect(longFunctions('testing/conformance/a.ts', mixed, 60, isCaseList)).toEqual([
      'testing/conformance/a.ts:1 someCases (93 lines)'
    ])
    expect(longFunctions('drivers/fs/a.ts', list, 60, isCaseList)).toEqual(['drivers/fs/a.ts:1 someCases (92 lines)'])
  })

  it('no function of over 60 lines anywhere in src/, but for the conformance case lists', () => {
    const all = files(SRC)
    expect(all.length).toBeGreaterThan(100)
    expect(all.flatMap(file => longFunctions(relative(SRC, file), readFileSync(file, 'utf8'), 60, isCaseList))).toEqual(
      []
    )
  })
})
