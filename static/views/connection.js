/**
 * The connection indicator: live (WebSocket) / polling every N s / offline. Hidden until
 * the page follows a project (the client connects only when there is something to watch).
 */

const $ = (id) => document.getElementById(id);

export class ConnectionView {
  constructor({ pollIntervalS }) {
    this.pollIntervalS = pollIntervalS;
    this.state = "offline";
    this.render();
  }

  set(state) {
    this.state = state;
    $("connection").hidden = false;
    this.render();
  }

  render() {
    const texts = {
      connecting: "Connecting…",
      live: "Live",
      polling: `Polling every ${this.pollIntervalS} s`,
      offline: "Offline — reconnecting",
    };
    $("connection").dataset.state = this.state;
    $("connection-text").textContent = texts[this.state] ?? texts.offline;
    $("connection").title = {
      live: "Updates arrive the moment they happen (WebSocket).",
      polling: "The live connection is unavailable; checking for updates regularly.",
    }[this.state] ?? "Waiting for the server.";
  }
}
