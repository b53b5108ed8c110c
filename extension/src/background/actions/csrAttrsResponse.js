/** `csrattrs.response`: the service's csrattrs; accepted only from the tab that was asked. */
export function csrAttrsResponse({ hub }, msg, { tabKey }) {
  return hub.csrAttrsResponse(tabKey, msg);
}
