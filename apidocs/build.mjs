// Copies Redoc's standalone bundle (the npm package pinned in package.json) into static/docs/,
// where the API docs page (/api/v1/docs) loads it from our own origin, never from a CDN.
//   node build.mjs           write static/docs/
//   node build.mjs --check   fail if static/docs/ differs from what the installed package gives (CI)
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const here = p => fileURLToPath(new URL(p, import.meta.url))
const check = process.argv.includes('--check')
const redoc = here('node_modules/redoc/')
const out = here('../static/docs/')

const pinned = JSON.parse(await readFile(here('package.json'), 'utf8')).devDependencies.redoc
const installed = JSON.parse(await readFile(redoc + 'package.json', 'utf8')).version
if (installed != pinned) {
  console.error(`node_modules has redoc ${installed}, package.json pins ${pinned}: run \`npm ci\` in apidocs/`)
  process.exit(1)
}

// The sidebar's "API docs by Redocly" link shows a logo from Redocly's CDN: the one thing the bundle
// loads from another host. The link stays, without the image; a new version must be looked at again.
const REMOTE_LOGO = /\w+\?\w+\.createElement\("img",\{alt:"redocly logo",onError:\(\)=>\w+\(!1\),src:"https:\/\/cdn\.redoc\.ly\/[^"]*"\}\):null/g
let bundle = await readFile(redoc + 'bundles/redoc.standalone.js', 'utf8')
const logos = bundle.match(REMOTE_LOGO) || []
if (logos.length != 1 || bundle.split('https://cdn.redoc.ly/').length != 2) {
  console.error(`redoc ${installed}: expected its CDN logo once, found ${logos.length}: check what it loads from other hosts`)
  process.exit(1)
}
bundle = bundle.replace(REMOTE_LOGO, 'null')
// Without its source map comment: the map is not shipped, and devtools would ask for it.
bundle = bundle.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n')
const files = {
  'redoc.standalone.js': bundle,
  // Named in the bundle's first line: the notices of what it includes.
  'redoc.standalone.js.LICENSE.txt': await readFile(redoc + 'bundles/redoc.standalone.js.LICENSE.txt', 'utf8'),
  'redoc.LICENSE': await readFile(redoc + 'LICENSE', 'utf8'),
}

if (check) {
  const stale = []
  for (const [name, text] of Object.entries(files))
    if ((await readFile(out + name, 'utf8').catch(() => '')) != text) stale.push(name)
  if (stale.length) {
    console.error(`static/docs/ is out of date (${stale.join(', ')}): run \`npm run build\` in apidocs/ and commit it`)
    process.exit(1)
  }
  console.log(`static/docs/ matches redoc ${installed}`)
} else {
  await mkdir(out, { recursive: true })
  for (const [name, text] of Object.entries(files)) await writeFile(out + name, text)
  console.log(`wrote ${out} from redoc ${installed} (${bundle.length} bytes of script)`)
}
