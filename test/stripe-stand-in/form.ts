// Decoding Stripe's wire format: application/x-www-form-urlencoded with bracketed keys
// (`metadata[a]=1`, `line_items[0][price]=price_1`), as the stripe SDK encodes it.

export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type Form = { [key: string]: FormValue };

export function parseForm(text: string): Form {
  const root: Form = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const segments = rawKey.replace(/\]/g, "").split("[");
    let node: Record<string, FormValue> = root;
    segments.forEach((segment, i) => {
      const key = segment === "" ? String(Object.keys(node).length) : segment; // `a[]=x`
      if (i === segments.length - 1) node[key] = value;
      else {
        if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
        node = node[key] as Record<string, FormValue>;
      }
    });
  }
  return arraysFromIndexedObjects(root) as Form;
}

function arraysFromIndexedObjects(value: FormValue): FormValue {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(arraysFromIndexedObjects);
  const keys = Object.keys(value);
  const converted = Object.fromEntries(keys.map((k) => [k, arraysFromIndexedObjects(value[k])]));
  if (keys.length && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => converted[k]);
  }
  return converted;
}
