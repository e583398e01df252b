// Badge counts: one badges:list at start, then the live stream (Server-Sent Events, which the
// browser authenticates with the session cookie). EventSource reconnects by itself after a
// dropped connection; when the server refuses the stream outright (readyState CLOSED) we fall
// back to asking badges:list every 30 seconds.
import { api } from "./api.js";

const POLL_MS = 30000;

/** Calls `onChange(list)` with every new badge list; returns a stop function. */
export function startBadges(onChange) {
  let source = null;
  let timer = null;
  let stopped = false;

  const poll = async () => {
    try {
      const res = await api.get("badges:list");
      if (!stopped) onChange(Array.isArray(res.data) ? res.data : []);
    } catch (err) {
      console.warn("badges:list failed", err);
    }
  };

  const fallback = () => {
    if (timer || stopped) return;
    timer = setInterval(poll, POLL_MS);
  };

  poll();
  if ("EventSource" in window) {
    source = new EventSource("/api/badges:stream", { withCredentials: true });
    const onEvent = (event) => {
      try {
        const list = JSON.parse(event.data);
        if (Array.isArray(list)) onChange(list);
        else if (Array.isArray(list?.data)) onChange(list.data);
      } catch (err) {
        console.warn("bad badge event", err);
      }
    };
    // the server names its events "badges"; unnamed ones arrive as "message"
    source.addEventListener("badges", onEvent);
    source.addEventListener("message", onEvent);
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) fallback(); };
  } else {
    fallback();
  }
  return () => {
    stopped = true;
    source?.close();
    clearInterval(timer);
  };
}
