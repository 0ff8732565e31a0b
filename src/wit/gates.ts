import type { Item, PackageDecl, InterfaceItem, WorldItem, TypeItem } from './ast.js';

// wit-parser leaves out everything marked `@unstable(feature = x)` unless
// feature x is enabled, and so does jco; so must we, to describe the same
// components. `@since` and `@deprecated` change nothing.

function enabled(item: Item, features: ReadonlySet<string>): boolean {
  return item.gates.every((g) => g.kind !== 'unstable' || g.args.some((a) => a.key === 'feature' && features.has(a.value)));
}

function typeItem(item: TypeItem, features: ReadonlySet<string>): TypeItem {
  return item.kind === 'resource' && item.funcs ? { ...item, funcs: item.funcs.filter((f) => enabled(f, features)) } : item;
}

function interfaceItems(items: InterfaceItem[], features: ReadonlySet<string>): InterfaceItem[] {
  return items.filter((i) => enabled(i, features)).map((i) => (i.kind === 'func' ? i : typeItem(i, features)));
}

function worldItems(items: WorldItem[], features: ReadonlySet<string>): WorldItem[] {
  return items
    .filter((i) => enabled(i, features))
    .map((i) => {
      if (i.kind === 'include') return i;
      if (i.kind === 'import' || i.kind === 'export') {
        return i.target.kind === 'interface' ? { ...i, target: { ...i.target, items: interfaceItems(i.target.items, features) } } : i;
      }
      return typeItem(i, features);
    });
}

/** A copy of `decl` without the items gated behind features not in `features`. */
export function withoutUnstable(decl: PackageDecl, features: ReadonlySet<string>): PackageDecl {
  const items = decl.items
    .filter((i) => enabled(i, features))
    .map((i) => {
      if (i.kind === 'interface') return { ...i, items: interfaceItems(i.items, features) };
      if (i.kind === 'world') return { ...i, items: worldItems(i.items, features) };
      return i;
    });
  return { ...decl, items };
}
