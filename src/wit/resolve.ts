import {
  interfaceId,
  interfacePaths,
  packageId,
  type FuncSig,
  type InterfaceItem,
  type InterfacePath,
  type PackageDecl,
  type PackageName,
  type TypeExpr,
  type TypeItem,
  type WorldDecl,
} from './ast.js';
import type {
  WitFunction,
  WitInterface,
  WitPackage,
  WitResolve,
  WitType,
  WitTypeDef,
  WitWorld,
  WitWorldItem,
} from './model.js';
import { withoutUnstable } from './gates.js';

export class WitResolveError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'WitResolveError';
  }
}

/** Supplies the syntax of a package that the loaded WIT refers to but does not contain. */
export type DependencyProvider = (pkg: PackageName) => PackageDecl[] | undefined;

type Owner = WitInterface | WitWorld;

/** Where a definition was written, for error messages and for resolving the names it mentions. */
interface Site {
  decl: PackageDecl;
  line: number;
  owner: Owner;
}

/** What an alias points at until the pending `use`s and bodies are resolved; never seen once `resolveWit` returns. */
const PENDING: WitType = { kind: 'tuple', types: [] };

function describeOwner(o: Owner): string {
  return `${o.kind} \`${o.name}\``;
}

class Resolver {
  readonly packages = new Map<string, WitPackage>();
  readonly interfaces = new Map<string, WitInterface>();
  readonly worlds = new Map<string, WitWorld>();
  /** Local interface names visible in each file (or nested package block). */
  private scopes = new Map<PackageDecl, Map<string, WitInterface>>();
  private sites = new Map<WitTypeDef, Site>();
  /** The syntax of `type a = ...` aliases, consulted to tell whether an alias names a resource. */
  private aliasSyntax = new Map<WitTypeDef, TypeExpr>();
  private worldSyntax = new Map<WitWorld, { decl: PackageDecl; ast: WorldDecl }>();
  private worldState = new Map<WitWorld, 'resolving' | 'done'>();
  /** Interfaces that a world's own `use`s import types from. */
  private worldUses = new Map<WitWorld, WitInterface[]>();
  /** Inline `import x: interface { ... }` interfaces, by their syntax. */
  private inlineInterfaces = new Map<object, WitInterface>();
  private pendingUses: Array<() => void> = [];
  private pendingBodies: Array<() => void> = [];

  constructor(
    private readonly deps: DependencyProvider,
    private readonly features: ReadonlySet<string>,
  ) {}

  run(main: PackageDecl[]): WitResolve {
    const byId = this.collect(main.map((d) => withoutUnstable(d, this.features)));
    for (const [id, decls] of byId) this.declarePackage(id, decls);
    for (const decls of byId.values()) for (const decl of decls) this.declareScope(decl);
    for (const pkg of this.packages.values()) for (const decl of pkg.decls) this.declareItems(pkg, decl);
    for (const f of this.pendingUses) f();
    for (const f of this.pendingBodies) f();
    for (const world of this.worlds.values()) this.elaborate(world);
    const mainIds = [...new Set(main.map((d) => packageId(d.name!)))];
    return { packages: this.packages, interfaces: this.interfaces, worlds: this.worlds, main: mainIds };
  }

  /** Groups the syntax by package, pulling in every package referred to, transitively. */
  private collect(main: PackageDecl[]): Map<string, PackageDecl[]> {
    const byId = new Map<string, PackageDecl[]>();
    const add = (decl: PackageDecl) => {
      if (!decl.name) throw new WitResolveError(decl.file, decl.line, 'file has no `package` declaration');
      const id = packageId(decl.name);
      byId.set(id, [...(byId.get(id) ?? []), decl]);
    };
    const queue = [...main];
    for (let decl = queue.shift(); decl; decl = queue.shift()) {
      add(decl);
      for (const path of interfacePaths(decl)) {
        if (!path.package || byId.has(packageId(path.package)) || queue.some((d) => d.name && packageId(d.name) === packageId(path.package!))) continue;
        const found = this.deps(path.package);
        if (!found?.length) {
          throw new WitResolveError(decl.file, path.line, `package \`${packageId(path.package)}\` not found (referenced by \`${path.package.namespace}:${path.package.name}/${path.name}\`)`);
        }
        queue.push(...found.map((d) => withoutUnstable(d, this.features)));
      }
    }
    return byId;
  }

  private declarePackage(id: string, decls: PackageDecl[]): void {
    const pkg: WitPackage = {
      name: decls[0].name!,
      id,
      docs: decls.flatMap((d) => d.docs),
      interfaces: new Map(),
      worlds: new Map(),
      decls,
    };
    this.packages.set(id, pkg);
    for (const decl of decls) {
      for (const item of decl.items) {
        if (item.kind === 'use') continue;
        if (pkg.interfaces.has(item.name) || pkg.worlds.has(item.name)) {
          throw new WitResolveError(decl.file, item.line, `\`${item.name}\` is defined twice in package \`${id}\``);
        }
        const common = { name: item.name, id: interfaceId(pkg.name, item.name), package: pkg, docs: item.docs };
        if (item.kind === 'interface') {
          const iface: WitInterface = { kind: 'interface', ...common, types: new Map(), functions: new Map(), deps: [] };
          pkg.interfaces.set(item.name, iface);
          this.interfaces.set(iface.id, iface);
        } else {
          const world: WitWorld = { kind: 'world', ...common, types: new Map(), imports: [], exports: [] };
          pkg.worlds.set(item.name, world);
          this.worlds.set(world.id, world);
          this.worldSyntax.set(world, { decl, ast: item });
        }
      }
    }
  }

  private declareScope(decl: PackageDecl): void {
    const pkg = this.packages.get(packageId(decl.name!))!;
    const scope = new Map(pkg.interfaces);
    for (const item of decl.items) {
      if (item.kind !== 'use') continue;
      const target = this.lookupInterface(decl, item.path);
      scope.set(item.as ?? item.path.name, target);
    }
    this.scopes.set(decl, scope);
  }

  private lookupInterface(decl: PackageDecl, path: InterfacePath): WitInterface {
    const found = path.package
      ? this.interfaces.get(interfaceId(path.package, path.name))
      : this.scopes.get(decl)?.get(path.name) ?? this.packages.get(packageId(decl.name!))!.interfaces.get(path.name);
    if (!found) {
      const shown = path.package ? interfaceId(path.package, path.name) : path.name;
      throw new WitResolveError(decl.file, path.line, `interface \`${shown}\` not found`);
    }
    return found;
  }

  private declareItems(pkg: WitPackage, decl: PackageDecl): void {
    for (const item of decl.items) {
      if (item.kind === 'interface') {
        this.declareInterface(pkg.interfaces.get(item.name)!, decl, item.items);
      } else if (item.kind === 'world') {
        const world = pkg.worlds.get(item.name)!;
        for (const wi of item.items) {
          if (wi.kind === 'include') continue;
          if (wi.kind !== 'import' && wi.kind !== 'export') {
            this.declareType(world, decl, wi);
          } else if (wi.target.kind === 'interface') {
            const inline: WitInterface = {
              kind: 'interface',
              name: wi.target.name,
              id: wi.target.name,
              package: pkg,
              docs: wi.docs,
              types: new Map(),
              functions: new Map(),
              deps: [],
            };
            this.inlineInterfaces.set(wi.target, inline);
            this.declareInterface(inline, decl, wi.target.items);
          }
        }
      }
    }
  }

  private declareInterface(iface: WitInterface, decl: PackageDecl, items: InterfaceItem[]): void {
    for (const item of items) {
      if (item.kind === 'func') {
        const site: Site = { decl, line: item.line, owner: iface };
        this.pendingBodies.push(() =>
          this.addFunction(site, iface, this.makeFunction(site, 'freestanding', undefined, item.name, item.sig, item.docs)),
        );
      } else {
        this.declareType(iface, decl, item);
      }
    }
  }

  private defineType(owner: Owner, site: Site, def: WitTypeDef): void {
    if (owner.types.has(def.name)) {
      throw new WitResolveError(site.decl.file, site.line, `type \`${def.name}\` is defined twice in ${describeOwner(owner)}`);
    }
    owner.types.set(def.name, def);
    this.sites.set(def, site);
  }

  private declareType(owner: Owner, decl: PackageDecl, item: TypeItem): void {
    const site: Site = { decl, line: item.line, owner };
    const base = { owner, docs: item.docs };
    switch (item.kind) {
      case 'use':
        for (const { name, as } of item.names) {
          const alias: WitTypeDef = { kind: 'alias', name: as ?? name, ...base, target: PENDING };
          this.defineType(owner, site, alias);
          this.pendingUses.push(() => {
            const from = this.lookupInterface(decl, item.from);
            const target = from.types.get(name);
            if (!target) {
              throw new WitResolveError(decl.file, item.line, `\`${name}\` is not defined in interface \`${from.id}\` (used by ${describeOwner(owner)})`);
            }
            alias.target = { kind: 'named', def: target };
            if (owner.kind === 'interface' && !owner.deps.includes(from) && from !== owner) owner.deps.push(from);
            if (owner.kind === 'world') this.worldUses.set(owner, [...(this.worldUses.get(owner) ?? []), from]);
          });
        }
        return;
      case 'type': {
        const def: WitTypeDef = { kind: 'alias', name: item.name, ...base, target: PENDING };
        this.defineType(owner, site, def);
        this.aliasSyntax.set(def, item.type);
        this.pendingBodies.push(() => {
          // An alias of a bare resource name aliases the resource itself (so `borrow<a>` works).
          def.target =
            item.type.kind === 'ref' && this.isResource(this.lookupType(site, item.type.name))
              ? { kind: 'named', def: this.lookupType(site, item.type.name) }
              : this.resolveType(site, item.type);
        });
        return;
      }
      case 'record': {
        const def: WitTypeDef = { kind: 'record', name: item.name, ...base, fields: [] };
        this.defineType(owner, site, def);
        this.pendingBodies.push(() => {
          if (!item.fields.length) throw new WitResolveError(decl.file, item.line, `record \`${item.name}\` has no fields`);
          def.fields = item.fields.map((f) => ({ name: f.name, type: this.resolveType({ ...site, line: f.line }, f.type), docs: f.docs }));
        });
        return;
      }
      case 'variant': {
        const def: WitTypeDef = { kind: 'variant', name: item.name, ...base, cases: [] };
        this.defineType(owner, site, def);
        this.pendingBodies.push(() => {
          if (!item.cases.length) throw new WitResolveError(decl.file, item.line, `variant \`${item.name}\` has no cases`);
          def.cases = item.cases.map((c) =>
            c.type ? { name: c.name, type: this.resolveType({ ...site, line: c.line }, c.type), docs: c.docs } : { name: c.name, docs: c.docs },
          );
        });
        return;
      }
      case 'enum':
        if (!item.cases.length) throw new WitResolveError(decl.file, item.line, `enum \`${item.name}\` has no cases`);
        this.defineType(owner, site, { kind: 'enum', name: item.name, ...base, cases: item.cases.map((c) => ({ name: c.name, docs: c.docs })) });
        return;
      case 'flags':
        this.defineType(owner, site, { kind: 'flags', name: item.name, ...base, flags: item.flags.map((f) => ({ name: f.name, docs: f.docs })) });
        return;
      case 'resource': {
        const def: WitTypeDef = { kind: 'resource', name: item.name, ...base };
        this.defineType(owner, site, def);
        if (owner.kind !== 'interface') {
          if (item.funcs?.length) throw new WitResolveError(decl.file, item.line, `resources with functions must be defined in an interface`);
          return;
        }
        for (const f of item.funcs ?? []) {
          const fsite: Site = { decl, line: f.line, owner };
          this.pendingBodies.push(() => this.addFunction(fsite, owner, this.makeFunction(fsite, f.kind, def, f.name, f.sig, f.docs)));
        }
        return;
      }
    }
  }

  private lookupType(site: Site, name: string): WitTypeDef {
    const def = site.owner.types.get(name);
    if (!def) throw new WitResolveError(site.decl.file, site.line, `type \`${name}\` is not defined in ${describeOwner(site.owner)}`);
    return def;
  }

  /** Whether a definition names a resource, following `use`s and `type a = r` aliases. */
  private isResource(def: WitTypeDef, seen = new Set<WitTypeDef>()): boolean {
    if (seen.has(def)) {
      const site = this.sites.get(def)!;
      throw new WitResolveError(site.decl.file, site.line, `type \`${def.name}\` refers to itself`);
    }
    seen.add(def);
    if (def.kind === 'resource') return true;
    if (def.kind !== 'alias') return false;
    const syntax = this.aliasSyntax.get(def);
    if (syntax) return syntax.kind === 'ref' && this.isResource(this.lookupType(this.sites.get(def)!, syntax.name), seen);
    return def.target.kind === 'named' && this.isResource(def.target.def, seen);
  }

  private resolveType(site: Site, t: TypeExpr): WitType {
    switch (t.kind) {
      case 'primitive':
        return { kind: t.name };
      case 'list':
        return { kind: 'list', element: this.resolveType(site, t.element) };
      case 'option':
        return { kind: 'option', inner: this.resolveType(site, t.inner) };
      case 'tuple':
        return { kind: 'tuple', types: t.types.map((x) => this.resolveType(site, x)) };
      case 'result': {
        const r: WitType = { kind: 'result' };
        if (t.ok) r.ok = this.resolveType(site, t.ok);
        if (t.err) r.err = this.resolveType(site, t.err);
        return r;
      }
      case 'handle': {
        const def = this.lookupType({ ...site, line: t.line }, t.resource);
        if (!this.isResource(def)) {
          throw new WitResolveError(site.decl.file, t.line, `\`${t.handle}<${t.resource}>\`: \`${t.resource}\` is not a resource`);
        }
        return { kind: t.handle, resource: def };
      }
      case 'ref': {
        const def = this.lookupType({ ...site, line: t.line }, t.name);
        return this.isResource(def) ? { kind: 'own', resource: def } : { kind: 'named', def };
      }
    }
  }

  private makeFunction(
    site: Site,
    kind: WitFunction['kind'],
    resource: WitTypeDef | undefined,
    local: string,
    sig: FuncSig,
    docs: string[],
  ): WitFunction {
    const r = resource?.name;
    const name = kind === 'freestanding' ? local : kind === 'constructor' ? `[constructor]${r}` : `[${kind}]${r}.${local}`;
    const params = sig.params.map((p) => ({ name: p.name, type: this.resolveType(site, p.type) }));
    if (kind === 'method') params.unshift({ name: 'self', type: { kind: 'borrow', resource: resource! } });
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) throw new WitResolveError(site.decl.file, site.line, `parameter \`${p.name}\` of \`${name}\` is declared twice`);
      seen.add(p.name);
    }
    const result = sig.result ? this.resolveType(site, sig.result) : kind === 'constructor' ? { kind: 'own' as const, resource: resource! } : undefined;
    const fn: WitFunction = { name, kind, params, owner: site.owner, docs };
    if (resource) fn.resource = resource;
    if (result) fn.result = result;
    return fn;
  }

  private addFunction(site: Site, iface: WitInterface, fn: WitFunction): void {
    if (iface.functions.has(fn.name)) {
      throw new WitResolveError(site.decl.file, site.line, `function \`${fn.name}\` is defined twice in ${describeOwner(iface)}`);
    }
    iface.functions.set(fn.name, fn);
  }

  // ---- worlds ----

  private elaborate(world: WitWorld): void {
    const state = this.worldState.get(world);
    const { decl, ast } = this.worldSyntax.get(world)!;
    if (state === 'done') return;
    if (state === 'resolving') throw new WitResolveError(decl.file, ast.line, `world \`${world.id}\` includes itself`);
    this.worldState.set(world, 'resolving');

    const imports = new Map<string, WitWorldItem>();
    const exports = new Map<string, WitWorldItem>();
    const put = (into: Map<string, WitWorldItem>, item: WitWorldItem, line: number) => {
      const existing = into.get(item.name);
      const same =
        existing &&
        ((existing.kind === 'interface' && item.kind === 'interface' && existing.interface === item.interface) ||
          (existing.kind === 'type' && item.kind === 'type' && existing.type === item.type));
      if (existing && !same) {
        throw new WitResolveError(decl.file, line, `\`${item.name}\` is imported or exported twice in world \`${world.name}\``);
      }
      into.set(item.name, item);
    };
    const importWithDeps = (iface: WitInterface, line: number, stack: WitInterface[] = []) => {
      if (imports.has(iface.id) || stack.includes(iface)) return;
      for (const dep of iface.deps) importWithDeps(dep, line, [...stack, iface]);
      put(imports, { kind: 'interface', name: iface.id, interface: iface }, line);
    };

    for (const used of this.worldUses.get(world) ?? []) importWithDeps(used, ast.line);
    for (const def of world.types.values()) put(imports, { kind: 'type', name: def.name, type: def }, ast.line);

    const includes: Array<{ target: WitWorld; renames: Map<string, string>; line: number }> = [];
    for (const item of ast.items) {
      if (item.kind === 'include') {
        const target = this.worldByPath(decl, item.path);
        this.elaborate(target);
        includes.push({ target, renames: new Map(item.with.map((w) => [w.name, w.as])), line: item.line });
        continue;
      }
      if (item.kind !== 'import' && item.kind !== 'export') continue;
      const into = item.kind === 'import' ? imports : exports;
      const t = item.target;
      if (t.kind === 'path') {
        const iface = this.lookupInterface(decl, t.path);
        if (item.kind === 'import') importWithDeps(iface, item.line);
        else put(exports, { kind: 'interface', name: iface.id, interface: iface }, item.line);
      } else if (t.kind === 'interface') {
        const iface = this.inlineInterfaces.get(t)!;
        if (item.kind === 'import') for (const dep of iface.deps) importWithDeps(dep, item.line);
        put(into, { kind: 'interface', name: t.name, interface: iface }, item.line);
      } else {
        const site: Site = { decl, line: item.line, owner: world };
        const fn = this.makeFunction(site, 'freestanding', undefined, t.name, t.sig, item.docs);
        put(into, { kind: 'function', name: t.name, function: fn }, item.line);
      }
    }

    for (const { target, renames, line } of includes) {
      const rename = (i: WitWorldItem): WitWorldItem => {
        const to = renames.get(i.name);
        return to ? { ...i, name: to } : i;
      };
      for (const i of target.imports) put(imports, rename(i), line);
      for (const i of target.exports) put(exports, rename(i), line);
    }

    // Interfaces that exports depend on come from imports unless they are exported too.
    const exported = new Set([...exports.values()].flatMap((i) => (i.kind === 'interface' ? [i.interface] : [])));
    for (const iface of exported) for (const dep of iface.deps) if (!exported.has(dep)) importWithDeps(dep, ast.line);

    world.imports = [...imports.values()];
    world.exports = [...exports.values()];
    this.worldState.set(world, 'done');
  }

  private worldByPath(decl: PackageDecl, path: InterfacePath): WitWorld {
    const pkg = path.package ?? decl.name!;
    const world = this.packages.get(packageId(pkg))?.worlds.get(path.name);
    if (!world) throw new WitResolveError(decl.file, path.line, `world \`${path.package ? interfaceId(pkg, path.name) : path.name}\` not found`);
    return world;
  }
}

export interface ResolveOptions {
  /** Packages referred to but not among those given. */
  deps?: DependencyProvider;
  /** Features whose `@unstable(feature = ...)` items to keep; by default none, as in wit-parser. */
  features?: Iterable<string>;
}

/** Resolves parsed packages (each with a `package` name) into a `WitResolve`. */
export function resolveWit(main: PackageDecl[], options: ResolveOptions = {}): WitResolve {
  return new Resolver(options.deps ?? (() => undefined), new Set(options.features)).run(main);
}
