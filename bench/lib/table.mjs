// Print rows as an aligned plain-text table (also valid Markdown).
export function table(rows, columns = Object.keys(rows[0] ?? {})) {
  const cells = [columns, ...rows.map((r) => columns.map((c) => fmt(r[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => String(row[i]).length)));
  const line = (row) => `| ${row.map((v, i) => String(v).padEnd(widths[i])).join(" | ")} |`;
  return [line(cells[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}

function fmt(v) {
  if (v === undefined || v === null) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return String(v);
}
