// localStorage under the "opsiq." prefix, with an in-memory fallback for
// browsers that refuse storage (the page keeps working, the choice lasts one page).
const M = {}
const K = k => 'opsiq.' + k

export const get = k => {
  let v
  try {
    v = localStorage.getItem(K(k))
  } catch (e) {}
  if (v == null) return M[k]
  try {
    return JSON.parse(v)
  } catch (e) {
    return v // plain strings (the visitor id) are stored raw
  }
}

export const put = (k, v) => {
  M[k] = v
  try {
    v == null ? localStorage.removeItem(K(k)) : localStorage.setItem(K(k), typeof v == 'string' ? v : JSON.stringify(v))
  } catch (e) {}
}

// RFC 4122 version 4 UUID from crypto.getRandomValues (randomUUID needs a secure context).
export const uuid = () => {
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6] & 15) | 64
  b[8] = (b[8] & 63) | 128
  return [...b]
    .map(x => (x + 256).toString(16).slice(1))
    .join('')
    .replace(/(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')
}
