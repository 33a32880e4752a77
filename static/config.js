/**
 * Page settings, read once from the query string (all optional):
 *
 *   ?poll=<seconds>   polling period when the WebSocket is unusable (default 10).
 *   ?retry=<ms>       base delay of WebSocket reconnects (default 500): with a small value
 *                     a blocked socket falls back to polling sooner (tests use it).
 *
 * Unknown or malformed values are ignored, leaving the defaults.
 */

const DEFAULT_POLL_S = 10;

function positiveNumber(params, name) {
  const value = Number(params.get(name));
  return params.has(name) && Number.isFinite(value) && value > 0 ? value : null;
}

export function readConfig(search = location.search) {
  const params = new URLSearchParams(search);
  const pollS = positiveNumber(params, "poll") ?? DEFAULT_POLL_S;
  const retryMs = positiveNumber(params, "retry");
  return {
    pollIntervalS: pollS,
    clientOptions: {
      pollIntervalMs: pollS * 1000,
      ...(retryMs === null ? {} : { backoffBaseMs: retryMs }),
    },
  };
}
