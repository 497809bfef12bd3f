// Prior blocking: <script type="text/plain" data-consent="..."> and
// <iframe data-consent="..." data-src="..."> run only once their purposes are allowed.
import { safe } from './dom.js'

const d = document
const SEL = 'script[type="text/plain"][data-consent],iframe[data-consent][data-src]'
let chain = Promise.resolve()
let lastLoad = chain

// External scripts go in with async=false so they execute in insertion order; an inline
// script waits for the external ones before it, which keeps document order overall.
const run = e => {
  if (e.tagName == 'IFRAME') {
    e.src = e.dataset.src
    e.removeAttribute('data-src')
    return
  }
  e.type = 'text/opsiq' // claimed: later scans skip it
  chain = chain.then(() => {
    if (!e.parentNode) return
    const n = d.createElement('script')
    for (const a of e.attributes) n.setAttribute(a.name, a.name == 'type' ? 'text/javascript' : a.value)
    n.nonce = e.nonce
    if (e.hasAttribute('src')) {
      n.async = false
      lastLoad = new Promise(r => (n.onload = n.onerror = r))
      e.replaceWith(n)
    } else
      return lastLoad.then(() => {
        n.text = e.text
        e.replaceWith(n)
      })
  })
}

// Returns scan(); it waits for DOMContentLoaded so inline scripts are complete and in order.
export const blocker = ok => {
  const scan = safe(() => {
    if (d.readyState != 'loading') d.querySelectorAll(SEL).forEach(e => ok(e.dataset.consent) && run(e))
  })
  new MutationObserver(scan).observe(d.documentElement, { childList: true, subtree: true })
  d.addEventListener('DOMContentLoaded', scan)
  return scan
}

// On refusal or withdrawal: delete the purpose's cookies (this host and its parent
// domains, path /) and storage keys. A trailing * matches a prefix (_ga_*).
export const wipe = p => {
  const m = (pats, n) => (pats || []).some(x => (x.slice(-1) == '*' ? !n.indexOf(x.slice(0, -1)) : n == x))
  const h = location.hostname.split('.')
  d.cookie.split(';').forEach(c => {
    const n = c.split('=')[0].trim()
    if (m(p.cookies, n))
      for (let i = 0; i <= h.length; i++) d.cookie = n + '=;max-age=0;path=/' + (i < h.length ? ';domain=' + h.slice(i).join('.') : '')
  })
  try {
    ;[localStorage, sessionStorage].forEach(s => Object.keys(s).forEach(k => m(p.storage, k) && s.removeItem(k)))
  } catch (e) {}
}
