// localStorage under the "opsiq." prefix, with an in-memory fallback for
// browsers that refuse storage (the page keeps working, the choice lasts one page).
const memory = {}
const storageKey = name => 'opsiq.' + name

export const read = name => {
  let text
  try {
    text = localStorage.getItem(storageKey(name))
  } catch (error) {}
  if (text == null) return memory[name]
  try {
    return JSON.parse(text)
  } catch (error) {
    return text // plain strings (the visitor id) are stored raw
  }
}

// null removes the key.
export const write = (name, value) => {
  memory[name] = value
  try {
    value == null
      ? localStorage.removeItem(storageKey(name))
      : localStorage.setItem(storageKey(name), typeof value == 'string' ? value : JSON.stringify(value))
  } catch (error) {}
}

// RFC 4122 version 4 UUID from crypto.getRandomValues (randomUUID needs a secure context).
export const uuid = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = (bytes[6] & 15) | 64
  bytes[8] = (bytes[8] & 63) | 128
  return [...bytes]
    .map(byte => (byte + 256).toString(16).slice(1))
    .join('')
    .replace(/(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')
}
