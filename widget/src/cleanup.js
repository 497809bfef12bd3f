// On refusal or withdrawal: delete a purpose's cookies (this host and its parent
// domains, path /) and storage keys. A trailing * matches a prefix (_ga_*).
const doc = document

const matches = (patterns, name) =>
  (patterns || []).some(pattern => (pattern.slice(-1) == '*' ? !name.indexOf(pattern.slice(0, -1)) : name == pattern))

export const wipe = purpose => {
  const host = location.hostname.split('.')
  doc.cookie.split(';').forEach(cookie => {
    const name = cookie.split('=')[0].trim()
    if (matches(purpose.cookies, name))
      for (let i = 0; i <= host.length; i++)
        doc.cookie = name + '=;max-age=0;path=/' + (i < host.length ? ';domain=' + host.slice(i).join('.') : '')
  })
  try {
    ;[localStorage, sessionStorage].forEach(storage =>
      Object.keys(storage).forEach(key => matches(purpose.storage, key) && storage.removeItem(key))
    )
  } catch (error) {}
}
