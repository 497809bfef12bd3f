// Builds widget/src/index.js into static/widget.js (minified IIFE, CSS inlined as a string).
//   node build.mjs           write static/widget.js
//   node build.mjs --check   fail if static/widget.js differs from a fresh build (CI)
//   node build.mjs --debug   unminified, with logging, to widget/dist/widget.debug.js
import * as esbuild from 'esbuild'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const here = p => fileURLToPath(new URL(p, import.meta.url))
const debug = process.argv.includes('--debug')
const check = process.argv.includes('--check')
const out = here(debug ? 'dist/widget.debug.js' : '../static/widget.js')
const TOKEN = '__OPSIQ_CONFIG__'

// Import .css files as a minified string, injected into the shadow root at run time.
const cssText = {
  name: 'css-text',
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, async a => {
      const { code } = await esbuild.transform(await readFile(a.path, 'utf8'), { loader: 'css', minify: true })
      return { contents: 'export default ' + JSON.stringify(code.trim()), loader: 'js' }
    })
  },
}

const result = await esbuild.build({
  entryPoints: [here('src/index.js')],
  bundle: true,
  format: 'iife',
  target: 'es2018',
  minify: !debug,
  define: { DEBUG: String(debug) },
  legalComments: 'none',
  mangleProps: /^_/, // internal properties (_name) are ours to shorten; config, storage and API names are not
  plugins: [cssText],
  write: false,
  logLevel: 'warning',
})
const code = result.outputFiles[0].text

// The server substitutes the config for this token: it must survive exactly once.
const n = code.split(TOKEN).length - 1
if (n != 1) {
  console.error(`expected exactly one ${TOKEN} in the bundle, found ${n}`)
  process.exit(1)
}

if (check) {
  const old = await readFile(out, 'utf8').catch(() => '')
  if (old != code) {
    console.error('static/widget.js is out of date: run `npm run build` in widget/ and commit it')
    process.exit(1)
  }
  console.log('static/widget.js matches the source')
} else {
  await mkdir(here(debug ? 'dist' : '../static'), { recursive: true })
  await writeFile(out, code)
  console.log(`wrote ${out} (${code.length} bytes)`)
}
