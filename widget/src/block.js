// Prior blocking: <script type="text/plain" data-consent="..."> and
// <iframe data-consent="..." data-src="..."> run only once their purposes are allowed.
import { safe } from './dom.js'

const doc = document
const GATED = 'script[type="text/plain"][data-consent],iframe[data-consent][data-src]'
let queue = Promise.resolve()
let lastExternal = queue

// External scripts go in with async=false so they execute in insertion order; an inline
// script waits for the external ones before it, which keeps document order overall.
const release = node => {
  if (node.tagName == 'IFRAME') {
    node.src = node.dataset.src
    node.removeAttribute('data-src')
    return
  }
  node.type = 'text/opsiq' // claimed: later scans skip it
  queue = queue.then(() => {
    if (!node.parentNode) return
    const script = doc.createElement('script')
    for (const attr of node.attributes) script.setAttribute(attr.name, attr.name == 'type' ? 'text/javascript' : attr.value)
    script.nonce = node.nonce
    if (node.hasAttribute('src')) {
      script.async = false
      lastExternal = new Promise(done => (script.onload = script.onerror = done))
      node.replaceWith(script)
    } else
      return lastExternal.then(() => {
        script.text = node.text
        node.replaceWith(script)
      })
  })
}

// allowed(dataConsent) says whether an element's purposes are all allowed. Returns scan(),
// which waits for DOMContentLoaded so inline scripts are complete and in order.
export const blocker = allowed => {
  const scan = safe(() => {
    if (doc.readyState != 'loading') doc.querySelectorAll(GATED).forEach(node => allowed(node.dataset.consent) && release(node))
  })
  new MutationObserver(scan).observe(doc.documentElement, { childList: true, subtree: true })
  doc.addEventListener('DOMContentLoaded', scan)
  return scan
}
