// Stage dependency graph: topological order (file order among independents) and cycle detection.

export interface GraphNode {
  id: string;
  /** Upstream stage ids this one depends on. */
  deps: string[];
}

/** Returns one cycle as a list of ids [a, b, …, a], or undefined if the graph is acyclic. */
export function findCycle(nodes: readonly GraphNode[]): string[] | undefined {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const state = new Map<string, 1 | 2>(); // 1 = on stack, 2 = done
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 1);
    stack.push(id);
    for (const d of byId.get(id)?.deps ?? []) {
      if (!byId.has(d)) continue;
      const s = state.get(d);
      if (s === 1) return [...stack.slice(stack.indexOf(d)), d];
      if (s === undefined) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(id, 2);
    return undefined;
  };
  for (const n of nodes) {
    if (state.has(n.id)) continue;
    const c = visit(n.id);
    if (c) return c.reverse(); // in data-flow direction: upstream → downstream
  }
  return undefined;
}

/** Kahn's algorithm; ties broken by the nodes' given order, so the result is deterministic. Assumes no cycle. */
export function topoOrder<T extends GraphNode>(nodes: readonly T[]): T[] {
  const indeg = new Map(nodes.map((n) => [n.id, 0]));
  const down = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const n of nodes) {
    for (const d of new Set(n.deps)) {
      if (!indeg.has(d)) continue;
      indeg.set(n.id, indeg.get(n.id)! + 1);
      down.get(d)!.push(n.id);
    }
  }
  const pos = new Map(nodes.map((n, i) => [n.id, i]));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ready = nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
  const out: T[] = [];
  while (ready.length) {
    ready.sort((a, b) => pos.get(a)! - pos.get(b)!);
    const id = ready.shift()!;
    out.push(byId.get(id)!);
    for (const c of down.get(id)!) {
      indeg.set(c, indeg.get(c)! - 1);
      if (indeg.get(c) === 0) ready.push(c);
    }
  }
  return out;
}

/** All stages downstream of `id` (transitively). */
export function descendants(nodes: readonly GraphNode[], id: string): Set<string> {
  const out = new Set<string>();
  const walk = (x: string) => {
    for (const n of nodes) if (n.deps.includes(x) && !out.has(n.id)) (out.add(n.id), walk(n.id));
  };
  walk(id);
  return out;
}
