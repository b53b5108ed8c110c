// Fake browser ports: an event with addListener, and a port that records what was posted.
export function fakeEvent() {
  const listeners = [];
  return {
    addListener: (fn) => listeners.push(fn),
    removeListener: (fn) => listeners.splice(listeners.indexOf(fn), 1),
    emit: (...args) => listeners.forEach((fn) => fn(...args)),
    get count() {
      return listeners.length;
    },
  };
}

export function fakePort(name = 'port', sender) {
  const port = {
    name,
    sender,
    posted: [],
    disconnected: false,
    onMessage: fakeEvent(),
    onDisconnect: fakeEvent(),
    postMessage(msg) {
      if (port.disconnected) throw new Error('Attempting to use a disconnected port object');
      port.posted.push(JSON.parse(JSON.stringify(msg)));
    },
    disconnect() {
      port.disconnected = true;
    },
    /** The other side sends a frame. */
    receive(msg) {
      port.onMessage.emit(msg, port);
    },
    /** The other side goes away (optionally with Firefox's port.error). */
    drop(error) {
      if (error) port.error = { message: error };
      port.disconnected = true;
      port.onDisconnect.emit(port);
    },
    last() {
      return port.posted[port.posted.length - 1];
    },
  };
  return port;
}
