// DOM helpers shared by the UI and the blocker.

// Wrap a callback so an error inside the widget never reaches the host page.
export const safe = fn => function () {
  try {
    return fn.apply(this, arguments)
  } catch (error) {
    if (DEBUG) console.error('[opsiq]', error)
  }
}

// el('p', {class: 'x'}, ['text', child]): site text goes into text nodes, never through innerHTML.
export const el = (tag, attributes = {}, children = []) => {
  const node = document.createElement(tag)
  for (const name in attributes) if (attributes[name] != null) node.setAttribute(name, attributes[name])
  children.forEach(child => child && node.append(child))
  return node
}

// addEventListener, not onclick: a handler returning false would cancel the event.
export const onClick = (node, handler) => {
  node.addEventListener('click', safe(handler))
  return node
}
