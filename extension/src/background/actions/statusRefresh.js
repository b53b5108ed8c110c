/** `status.refresh`: ask the host for the card status again (e.g. after the page came back). */
export function statusRefresh({ hub }) {
  hub.refresh();
  return true;
}
