/** `cardAdmin.response`: a card-management answer; accepted only from the tab that was asked. */
export function cardAdminResponse({ hub }, msg, { tabKey }) {
  return hub.cardAdminResponse(tabKey, msg);
}
