// The docs agree with the code: the README's environment table lists exactly the variables that
// src/ reads, no message names a variable that nothing reads, the README keeps its first screen
// and its size, and every relative link in the README and docs/ leads to a file.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { MemoryDriver } from '../src/drivers/memory/index.js'
import { createImageStorage, DRIVERS } from '../src/features/factory/index.js'
import { Variants } from '../src/features/variants/index.js'

// PACKAGE_UNDER_TEST: another checkout (an older commit) whose README and src/ are checked instead
const ROOT = process.env.PACKAGE_UNDER_TEST ?? resolve(new URL('..', import.meta.url).pathname)
const VARIABLE = /^(SAI_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)$/

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path, ext) : path.endsWith(ext) ? [path] : []
  })
}

/** `env` or `process.env` (the names the code gives the environment it reads). */
const isEnv = (node: ts.Node): boolean =>
  (ts.isIdentifier(node) && node.text === 'env') ||
  (ts.isPropertyAccessExpression(node) &&
    node.name.text === 'env' &&
    ts.isIdentifier(node.expression) &&
    node.expression.text === 'process')

const literal = (node: ts.Node): string | undefined =>
  ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) ? node.text : undefined

/**
 * The variables src/ reads: `env.NAME`, `process.env.NAME`, `env['NAME']`, and a call given both
 * the environment and the name (`readString(env, 'NAME')`, `readChoice(env, 'NAME', …)`).
 */
function variablesRead(): Map<string, string[]> {
  const read = new Map<string, string[]>()
  const add = (name: string | undefined, where: string): void => {
    if (name !== undefined && VARIABLE.test(name)) read.set(name, [...(read.get(name) ?? []), where])
  }
  for (const file of files(join(ROOT, 'src'), '.ts')) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
    const where = relative(ROOT, file)
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node) && isEnv(node.expression)) add(node.name.text, where)
      if (ts.isElementAccessExpression(node) && isEnv(node.expression)) add(literal(node.argumentExpression), where)
      if (ts.isCallExpression(node) && node.arguments.some(isEnv))
        for (const arg of node.arguments) add(literal(arg), where)
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return read
}

/** Every variable named anywhere in src/: in code, messages, help and comments (not `SAI_S3_*` patterns). */
function variablesNamed(): Map<string, string> {
  const named = new Map<string, string>()
  for (const file of files(join(ROOT, 'src'), '.ts')) {
    for (const [name] of readFileSync(file, 'utf8').matchAll(/\b(?:SAI_[A-Z0-9_]+|DATABASE_URL)(?![A-Za-z0-9_*$])/g)) {
      if (VARIABLE.test(name)) named.set(name, relative(ROOT, file))
    }
  }
  return named
}

/** The README's section `## Environment`: the names in backticks in the first cell of each row. */
function variablesDocumented(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Environment\n')
  expect(start).toBeGreaterThan(0)
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1))
  const rows = section.split('\n').filter(line => line.startsWith('| `'))
  return rows.flatMap(row => [...row.split('|')[1]!.matchAll(/`([^`]+)`/g)].map(match => match[1]!))
}

describe("the README's environment table", () => {
  it('lists every variable that src/ reads, and nothing else, each in full', () => {
    const read = variablesRead()
    expect(read.size).toBeGreaterThan(20)
    const documented = variablesDocumented()
    expect(documented.filter(name => !VARIABLE.test(name))).toEqual([]) // no `_WIDTH`-style abbreviations
    expect(documented.filter((name, i) => documented.indexOf(name) !== i)).toEqual([]) // each once
    const missing = [...read.keys()]
      .filter(name => !documented.includes(name))
      .map(name => `${name} (read in ${read.get(name)!.join(', ')})`)
    expect(missing).toEqual([])
    expect(documented.filter(name => !read.has(name))).toEqual([])
  })

  it('finds the reads the factory and the variants really make (a recording environment)', async () => {
    const asked = new Set<string>()
    const recording = (values: Record<string, string>): Record<string, string> =>
      new Proxy(values, {
        get: (target, name) => {
          if (typeof name === 'string') asked.add(name)
          return target[name as string]
        }
      })
    for (const driver of DRIVERS)
      await createImageStorage({}, recording({ SAI_IMAGE_STORAGE_DRIVER: driver, SAI_S3_BUCKET: 'frames' })).close()
    void new Variants(new MemoryDriver(), {}, recording({ SAI_IMAGE_VARIANTS_PATH: '/nonexistent/variants' }))
    const read = variablesRead()
    expect(asked.size).toBeGreaterThan(15)
    expect([...asked].filter(name => VARIABLE.test(name) && !read.has(name))).toEqual([])
  })

  it('no message, help text or comment in src/ names a variable that nothing reads', () => {
    const read = variablesRead()
    expect(
      [...variablesNamed()].filter(([name]) => !read.has(name)).map(([name, file]) => `${name} in ${file}`)
    ).toEqual([])
  })
})

describe('the README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

  it('starts with the two commands a newcomer runs on a fresh machine', () => {
    expect(readme.split('\n').slice(0, 6)).toEqual([
      '# sai-image-storage',
      '',
      '```sh',
      expect.stringMatching(/^npm ci && npm run demo {2,}# /),
      expect.stringMatching(/^npm test {2,}# /),
      '```'
    ])
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts
    expect(scripts.demo).toMatch(/node examples\/quickstart\.mjs/)
    expect(scripts.test).toMatch(/^biome ci \. && vitest run$/) // the linter first, then every test
  })

  it('fits in about 10 KB; the rest is in docs/', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(11_000)
    for (const page of [
      'cli.md',
      'http.md',
      'variants.md',
      'retention.md',
      'operations.md',
      'performance.md',
      'drivers/fs.md',
      'drivers/s3.md',
      'drivers/memory.md'
    ]) {
      expect(existsSync(join(ROOT, 'docs', page))).toBe(true)
      expect(readme).toContain(`](docs/${page})`)
    }
    expect(readme).toMatch(/^- Replication: \[docs\/replication\.md\]\(docs\/replication\.md\)$/m)
    expect(readme).toMatch(/^- Observability: \[docs\/observability\.md\]\(docs\/observability\.md\)$/m)
  })
})

// pages that colleagues are writing: linked already, checked once they exist
describe('links', () => {
  it('every relative link in the README and docs/ leads to a file (and its #anchor to a heading)', () => {
    const pages = [join(ROOT, 'README.md'), ...files(join(ROOT, 'docs'), '.md')]
    const broken: string[] = []
    for (const page of pages) {
      const text = readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '')
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue
        const [file, anchor] = target!.split('#')
        const path = file === '' ? page : resolve(dirname(page), file!)
        if (!existsSync(path)) {
          broken.push(`${relative(ROOT, page)} -> ${target}`)
          continue
        }
        if (anchor !== undefined && path.endsWith('.md')) {
          const slugs = readFileSync(path, 'utf8')
            .split('\n')
            .filter(l => l.startsWith('#'))
            .map(l =>
              l
                .replace(/^#+\s*/, '')
                .toLowerCase()
                .replace(/[^\w\s-]/g, '')
                .replace(/\s/g, '-')
            )
          if (!slugs.includes(anchor)) broken.push(`${relative(ROOT, page)} -> ${target} (no such heading)`)
        }
      }
    }
    expect(broken).toEqual([])
  })
})
