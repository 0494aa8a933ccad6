// Placeholder stream client: connects and shows the connection state (full client: issue 4).
(function () {
  const el = document.getElementById("stream-status");
  function setState(s) { if (el) { el.dataset.state = s; el.querySelector(".label").textContent = s; } }
  const proto = location.protocol === "https:" ? "wss" : "ws";
  let delay = 500;
  function connect() {
    const ws = new WebSocket(`${proto}://${location.host}/ws/metrics/`);
    ws.onopen = () => { delay = 500; setState("open"); };
    ws.onclose = () => { setState("closed"); setTimeout(connect, delay = Math.min(delay * 2, 15000)); };
  }
  connect();
})();
