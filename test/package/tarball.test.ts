// The npm tarball carries its docs: `npm pack` of the built package, unpacked, holds docs/ and
// examples/, package.json names the repository, the homepage and the bug tracker, and every relative
// link of the README and of the packed Markdown pages leads to a file in the tarball (and its
// #anchor to a heading there): someone who installed the package from the registry can follow them.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'
import { PACKAGE } from './package.js'

let unpacked: string

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap(name =>
    statSync(join(dir, name)).isDirectory() ? walk(join(dir, name)) : [join(dir, name)]
  )
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string): string =>
  heading
    .replace(/^#+\s*/, '')
    .toLowerCase()
    .replace(/[^\w\s-]/g, '')
    .replace(/\s/g, '-')

/** The relative links of a Markdown page (outside code blocks) that do not resolve in `root`. */
function brokenLinks(page: string, root: string): { links: number; broken: string[] } {
  const text = readFileSync(page, 'utf8').replace(/```[\s\S]*?```/g, '')
  const broken: string[] = []
  let links = 0
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/.test(target!)) continue
    links++
    const [file, anchor] = target!.split('#')
    const path = file === '' ? page : resolve(dirname(page), file!)
    if (relative(root, path).startsWith('..') || !existsSync(path)) broken.push(`${relative(root, page)} -> ${target}`)
    else if (
      anchor !== undefined &&
      path.endsWith('.md') &&
      !readFileSync(path, 'utf8')
        .split('\n')
        .filter(l => l.startsWith('#'))
        .map(slug)
        .includes(anchor)
    ) {
      broken.push(`${relative(root, page)} -> ${target} (no such heading)`)
    }
  }
  return { links, broken }
}

beforeAll(async () => {
  const out = await tempDir('sai-pack')
  // the package is built already (the test setup), its dist a link npm does not follow: the tree is
  // copied with the link resolved (node_modules and git aside), and packed as `npm publish` would
  const tree = join(out, 'tree')
  mkdirSync(tree)
  for (const name of readdirSync(PACKAGE).filter(name => !/^(node_modules|\.git|\.dist-build.*)$/.test(name)))
    cpSync(join(PACKAGE, name), join(tree, name), { recursive: true, dereference: true })
  const [{ filename }] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], {
      cwd: tree,
      encoding: 'utf8'
    })
  ) as Array<{ filename: string }>
  execFileSync('tar', ['-xzf', join(out, filename), '-C', out])
  unpacked = join(out, 'package')
}, 120_000)

describe('the npm tarball', () => {
  it('holds the docs and the examples beside dist/, and says where the repository, the homepage and the issues are', () => {
    const files = walk(unpacked).map(path => relative(unpacked, path))
    for (const file of [
      'README.md',
      'LICENSE',
      'docs/cli.md',
      'docs/replication.md',
      'docs/observability.md',
      'examples/quickstart.mjs',
      'examples/grafana/sai-images-dashboard.json',
      'dist/cli.js'
    ])
      expect(files).toContain(file)
    expect(files.filter(file => /^(src|test|bench\/.*\.m?js|node_modules)\//.test(file))).toEqual([])
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'))
    expect(manifest.repository).toEqual({ type: 'git', url: 'git+https://github.com/AlterMundi/sai-image-storage.git' })
    expect(manifest.homepage).toBe('https://github.com/AlterMundi/sai-image-storage#readme')
    expect(manifest.bugs).toEqual({ url: 'https://github.com/AlterMundi/sai-image-storage/issues' })
  })

  it('every relative link of the README and of the packed pages resolves against the tarball', () => {
    const pages = walk(unpacked).filter(path => path.endsWith('.md'))
    const readme = brokenLinks(join(unpacked, 'README.md'), unpacked)
    expect(readme.links).toBeGreaterThan(20) // the README links docs/ and examples/ throughout
    const broken = pages.flatMap(page => brokenLinks(page, unpacked).broken)
    expect(broken).toEqual([])
  })

  it('the examples run as shipped, with only the package.json dependencies installed', async () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'))
    // as `npm install` lays it out: the runtime dependencies beside the package, nothing of the repository's
    mkdirSync(join(unpacked, 'node_modules'), { recursive: true })
    for (const name of Object.keys(manifest.dependencies))
      symlinkSync(join(ROOT, 'node_modules', name), join(unpacked, 'node_modules', name))
    const root = await tempDir()
    const cwd = await tempDir()
    const example = (script: string): string =>
      execFileSync(process.execPath, [join(unpacked, 'examples', script)], {
        env: { ...process.env, DATABASE_URL: '', SAI_IMAGE_STORAGE_PATH: root },
        encoding: 'utf8',
        cwd
      })
    expect(example('quickstart.mjs').match(/identical, verified against the hash/g)).toHaveLength(4)
    expect(example('inference-wrapper/server.mjs')).toMatch(/^multipart: 200 /m)
  }, 60_000)
})
