/**
 * Jenkins' `tree=` query parameter: grammar and pruning as Stapler implements it
 * (reference §4 "tree= and depth=", STAPLER export/NamedPathPruner.java, TreePruner.java):
 *   tree  := node ("," node)*
 *   node  := name ("[" tree "]")? ("{" range "}")?
 *   range := M,N | N | M, | ,N      (half-open [min,max) over list elements)
 * `_class` is always emitted. A named object property without a sub-tree is
 * emitted as `{_class}` only (an empty pruner). A malformed tree is a 500.
 */

export interface TreeRange {
  min: number;
  max: number;
}

export interface TreeNode {
  name: string;
  children: TreeNode[] | null;
  range: TreeRange | null;
}

export class TreeSyntaxError extends Error {
  override name = 'TreeSyntaxError';
}

export function parseTree(expr: string): TreeNode[] {
  let pos = 0;
  const fail = (msg: string): never => {
    throw new TreeSyntaxError(`Malformed tree expression: ${msg} at ${pos} in "${expr}"`);
  };

  function parseList(closing: string | null): TreeNode[] {
    const nodes: TreeNode[] = [];
    for (;;) {
      nodes.push(parseNode());
      const c = expr[pos];
      if (c === ',') {
        pos++;
        continue;
      }
      if (closing && c === closing) return nodes;
      if (!closing && c === undefined) return nodes;
      fail(`unexpected ${c === undefined ? 'end' : `"${c}"`}`);
    }
  }

  function parseNode(): TreeNode {
    const start = pos;
    while (pos < expr.length && !',[]{}'.includes(expr[pos]!)) pos++;
    const name = expr.slice(start, pos).trim();
    if (!name) fail('empty name');
    let children: TreeNode[] | null = null;
    let range: TreeRange | null = null;
    if (expr[pos] === '[') {
      pos++;
      children = parseList(']');
      pos++; // ']'
    }
    if (expr[pos] === '{') {
      const end = expr.indexOf('}', pos);
      if (end < 0) fail('unclosed "{"');
      range = parseRange(expr.slice(pos + 1, end));
      pos = end + 1;
    }
    return { name, children, range };
  }

  function parseRange(text: string): TreeRange {
    const num = (s: string) => {
      if (!/^\d+$/.test(s.trim())) fail(`bad range "{${text}}"`);
      return Number(s.trim());
    };
    if (!text.includes(',')) {
      const n = num(text);
      return { min: n, max: n + 1 };
    }
    const [a = '', b = ''] = text.split(',', 2);
    return { min: a.trim() === '' ? 0 : num(a), max: b.trim() === '' ? Number.MAX_SAFE_INTEGER : num(b) };
  }

  if (!expr.trim()) fail('empty expression');
  return parseList(null);
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function pruneValue(value: Json, node: TreeNode): Json {
  let v = value;
  if (Array.isArray(v) && node.range) v = v.slice(node.range.min, Math.min(node.range.max, v.length));
  if (Array.isArray(v)) return v.map((el) => pruneElement(el, node.children ?? []));
  return pruneElement(v, node.children ?? []);
}

function pruneElement(value: Json, children: TreeNode[]): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return pruneObject(value, children);
}

function pruneObject(obj: { [k: string]: Json }, tree: TreeNode[]): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  if ('_class' in obj) out._class = obj._class!;
  for (const node of tree) {
    if (node.name === '_class' || !(node.name in obj)) continue;
    out[node.name] = pruneValue(obj[node.name]!, node);
  }
  return out;
}

/** Applies a parsed tree to a JSON value (an object at the top level). */
export function applyTree(value: unknown, tree: TreeNode[]): unknown {
  return pruneElement(value as Json, tree);
}
