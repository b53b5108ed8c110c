/** `est.response`: the answer of an EST exchange; accepted only from the tab that was asked. */
export function estResponse({ hub }, msg, { tabKey }) {
  return hub.estResponse(tabKey, msg);
}
