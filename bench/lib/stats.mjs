// Small, dependency-free statistics for latency samples (milliseconds).

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1; // nearest-rank
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    min: round(sorted[0]),
    max: round(sorted[sorted.length - 1]),
    mean: round(mean),
  };
}

export const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);
export const round = (x, digits = 3) => (Number.isFinite(x) ? +x.toFixed(digits) : x);
export const ratio = (a, b) => round(a / b, 2);
