"""The JavaScript a scan evaluates in the page (observe.py): GPC on, who writes what, the page's
facts after a load, the banner's buttons, settling, and axe-core on the banner."""

GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true, configurable: true})"

# Which script wrote a cookie or storage key: document.currentScript while it runs, with its
# data-consent (the widget's released copy of a gated script keeps it); "" for an ungated script.
WRITES = """(() => {
  const log = []
  Object.defineProperty(window, '__opsiqScanWrites', {value: log})
  const who = () => { const s = document.currentScript; return s ? (s.dataset.consent || '') : null }
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')
  Object.defineProperty(Document.prototype, 'cookie', {configurable: true, enumerable: true,
    get() { return cookie.get.call(this) },
    set(v) {
      try { log.push(['cookie', String(v).split('=')[0].trim(), who()]) } catch (e) {}
      cookie.set.call(this, v)
    }})
  const setItem = Storage.prototype.setItem
  Storage.prototype.setItem = function (k) {
    try { log.push([this === window.sessionStorage ? 'session' : 'local', String(k), who()]) } catch (e) {}
    return setItem.apply(this, arguments)
  }
})()"""

PAGE_FACTS = """() => {
  const executable = s => !s.type || /^(text|application)\\/(x-)?(java|ecma)script$|^module$/i.test(s.type)
  const root = document.getElementById('opsiq-consent')?.shadowRoot
  const api = window.opsiqConsent
  return {
    local: Object.keys(localStorage), session: Object.keys(sessionStorage),
    scripts: [...document.scripts].filter(executable).map(s => ({src: s.src || null,
      inline: s.src ? null : s.text.trim().replace(/\\s+/g, ' ').slice(0, 120), consent: s.dataset.consent || null})),
    iframes: [...document.querySelectorAll('iframe')].filter(f => f.getAttribute('src'))
      .map(f => ({src: f.src, consent: f.dataset.consent || null})),
    gated_waiting: document.querySelectorAll(
      'script[type="text/plain"][data-consent],iframe[data-consent][data-src]').length,
    datalayer: (window.dataLayer || []).map(e => Object.prototype.toString.call(e) == '[object Arguments]'
      ? Array.from(e) : e),
    writes: window.__opsiqScanWrites || [],
    widget: !!api, consent: api ? api.get() : null, banner: !!root?.querySelector('section[role=region]'),
  }
}"""

# The banner's choice buttons (opt-in: Accept all, Reject all, Settings) as a visitor sees them.
BUTTONS = """() => {
  const root = document.getElementById('opsiq-consent')?.shadowRoot
  return [...(root?.querySelectorAll('section[role=region] .a button') || [])].map(b => {
    const r = b.getBoundingClientRect(), s = getComputedStyle(b)
    return {text: b.textContent, element: b.tagName.toLowerCase(),
      width: Math.round(r.width), height: Math.round(r.height),
      background: s.backgroundColor, color: s.color, font_size: s.fontSize, font_weight: s.fontWeight,
      border: `${s.borderTopWidth} ${s.borderTopStyle} ${s.borderTopColor}`}
  })
}"""

SETTLED = """async () => {
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))
  const roots = [document, ...[...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)]
  await Promise.all(roots.flatMap(root => root.getAnimations()).map(a => a.finished.catch(() => 0)))
}"""

AXE_RUN = """async () => {
  const host = document.getElementById('opsiq-consent')
  if (!host || !window.axe) return null
  const result = await axe.run(host, {resultTypes: ['violations']})
  return result.violations.map(v => ({rule: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target)}))
}"""

