// A bounded closed-loop load generator on node:http with keep-alive: `concurrency` loops,
// each sending its next request when the previous one has finished, until `n` requests are
// done. Latency is measured per request from send to the end of the body.
import http from "node:http";

export function keepAliveAgent(concurrency) {
  return new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
}

export function request(origin, path, { method = "GET", headers = {}, body, agent } = {}) {
  const url = new URL(path, origin);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, agent },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), ms });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/**
 * Run n requests with `concurrency` in flight. `make(i)` returns { path, headers, method, body }.
 * `inspect(response, i)` may return a string key to tally (e.g. DO-call counts).
 */
export async function drive({ origin, n, concurrency, make, inspect, agent }) {
  agent ??= keepAliveAgent(concurrency);
  const latencies = new Array(n);
  const statuses = {};
  const tallies = {};
  let next = 0;
  const started = process.hrtime.bigint();
  async function loop() {
    while (next < n) {
      const i = next++;
      const spec = make(i);
      const res = await request(origin, spec.path, { ...spec, agent });
      latencies[i] = res.ms;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      const key = inspect?.(res, i);
      if (key !== undefined) tallies[key] = (tallies[key] ?? 0) + 1;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, loop));
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { latencies, wallMs, rps: (n / wallMs) * 1000, statuses, tallies };
}
