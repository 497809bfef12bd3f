// DOM helpers shared by the UI and the blocker.

// Wrap a callback so an error inside the widget never reaches the host page.
export const safe = f => function () {
  try {
    return f.apply(this, arguments)
  } catch (e) {
    if (DEBUG) console.error('[opsiq]', e)
  }
}

// el('button', {t: 'text', on: fn, class: 'x'}, [children]): attributes are set
// with setAttribute, text with textContent; site text never goes through innerHTML.
// Listeners go through addEventListener: an onclick returning false would cancel the event.
export const el = (tag, a = {}, kids = []) => {
  const e = document.createElement(tag)
  for (const k in a) {
    const v = a[k]
    if (v != null) k == 't' ? (e.textContent = v) : k == 'on' ? e.addEventListener('click', safe(v)) : e.setAttribute(k, v)
  }
  kids.forEach(k => k && e.append(k))
  return e
}
