// The banner, the preferences dialog and the persistent "Privacy settings" button,
// all inside one shadow root so host-page CSS cannot reach them.
import { el, safe } from './dom.js'
import css from './widget.css'

// act: a accept all, r reject all, x dismiss, n do-not-sell, s(fn) custom,
//      d() current decisions, h() whether a valid decision exists.
export const ui = (C, act, banner) => {
  const T = C.texts || {}
  const P = C.purposes || []
  const d = document
  const sw = {}
  const host = el('div', { id: 'opsiq-consent' })
  const R = host.attachShadow({ mode: 'open' })
  let back, ret, B

  const btn = (k, f) => el('button', { type: 'button', class: 'x', part: 'button', t: T[k], on: f })
  const close = () => {
    O.hidden = true
    // Under opt-in, leaving the dialog before any choice is a refusal.
    act.h() || C.regime != 'opt_in' ? refocus() : act.x()
  }
  const link = () => {
    const u = (C.policy || {}).url
    return /^https?:/i.test(u) && el('a', { href: u, target: '_blank', rel: 'noopener', t: T.policy_link })
  }
  const text = s => el('p', {}, [s, ' ', link()])
  const ok = x => x && x.isConnected && x != d.body && !x.closest('[hidden]')
  const refocus = () => ([ret, back].find(ok) || F).focus()

  const open = () => {
    ret = R.activeElement || d.activeElement
    const x = act.d()
    P.forEach(p => {
      sw[p.slug].checked = !!x[p.slug]
      sw[p.slug].disabled = !!p.locked
    })
    O.hidden = false
    D.querySelector('button').focus()
  }

  const D = el('div', { class: 'd', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'od', part: 'dialog' }, [
    el('button', { type: 'button', class: 'c', 'aria-label': T.close, t: '\xd7', on: close }),
    el('h2', { id: 'od', t: T.privacy_settings }),
    text(T.description),
    ...P.map((p, i) =>
      el('div', { class: 'p' }, [
        el('label', {}, [p.title, (sw[p.slug] = el('input', { type: 'checkbox', role: 'switch', 'aria-describedby': 'pd' + i }))]),
        el('p', { id: 'pd' + i }, [p.description, p.locked && ' ' + (T.necessary_note || '')]),
      ])
    ),
    el('div', { class: 'a' }, [
      C.regime == 'opt_out' && btn('dnss', act.n),
      btn('accept_all', act.a),
      btn('reject_all', act.r),
      btn('save', () => act.s(p => sw[p.slug].checked)),
    ]),
  ])
  const O = el('div', { class: 'o', hidden: '' }, [D])
  O.addEventListener('click', safe(e => e.target == O && close()))
  D.addEventListener('keydown', safe(e => {
    if (e.key == 'Escape') close()
    else if (e.key == 'Tab') {
      // Focus trap: wrap around at both ends.
      const f = [...D.querySelectorAll('a[href],button,input:enabled')]
      const i = f.indexOf(R.activeElement)
      if (e.shiftKey ? i < 1 : i == f.length - 1) {
        e.preventDefault()
        f[e.shiftKey ? f.length - 1 : 0].focus()
      }
    }
  }))

  if (banner) {
    const k = { opt_out: ['dnss', 'settings', 'ok'], notice: ['ok', 'settings'] }[C.regime] || ['accept_all', 'reject_all', 'settings']
    const f = { accept_all: act.a, reject_all: act.r, settings: open, ok: act.x, dnss: act.n }
    B = el('section', { class: 'b', role: 'region', 'aria-labelledby': 'ot', tabindex: '-1', part: 'banner' }, [
      C.regime == 'opt_in' && el('button', { type: 'button', class: 'c', 'aria-label': T.close, t: '\xd7', on: act.x }),
      el('h2', { id: 'ot', t: T.title }),
      text(T.description),
      el('div', { class: 'a' }, k.map(x => btn(x, f[x]))),
    ])
    B.addEventListener('keydown', safe(e => e.key == 'Escape' && act.x()))
  }
  const F = el('button', { type: 'button', class: 'f', part: 'fab', t: T.privacy_settings, on: open })
  F.hidden = !!B

  R.append(el('style', { t: css }), el('div', { class: 'r', dir: C.dir == 'rtl' ? 'rtl' : 'ltr', lang: C.language }, [B, O, F]))
  d.body.append(host)
  if (B) {
    back = d.activeElement
    // Focus after the first paint: focus() forces a layout of the whole page and would delay
    // the banner by tens of ms. Skipped if the visitor has moved focus meanwhile.
    requestAnimationFrame(() => setTimeout(safe(() => d.activeElement == back && B.isConnected && B.focus({ preventScroll: true }))))
  }

  return {
    open,
    // After any decision: close everything, keep the settings button, and if the
    // visitor was inside the widget put focus back where it was before.
    done() {
      const inside = R.activeElement
      O.hidden = true
      B && B.remove()
      F.hidden = false
      if (inside) refocus()
    },
  }
}
