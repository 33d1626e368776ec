/**
 * Every export of the product (src/) and the guest producer (guest-stub/) carries a doc comment
 * that states its contract: what it accepts, returns and throws, and who owns the memory it hands
 * out. This checker lists the ones without a `/** … *\/` comment directly above them, as
 * `file:line name`. It reads the source tree as it is (no list of files), so it keeps checking
 * after files are split, moved or added.
 *
 * Counted: exported functions, classes, interfaces, type aliases, enums, variables (`export const`),
 * namespaces, `export default`, local names exported by `export { x }`, and the public methods and
 * accessors of exported classes (overloads count once: a comment on any signature will do; a
 * member that implements or overrides a documented member of an interface or base class inherits
 * that comment, as the editor shows it, so it needs its own only where its contract differs).
 * Not counted: re-exports (`export { x } from`, `export * from`; the comment lives where the
 * symbol is declared), constructors (the class comment says what it takes), fields and
 * interface members (commented where they need it, not required).
 */
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIRS = ['src', 'guest-stub'];

/** All .ts sources (no .d.ts) under `dir`, recursively, sorted for a stable report. */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath ?? (e as { path?: string }).path ?? dir, e.name))
    .sort();
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

/**
 * True when a JSDoc comment with some text (or a tag) sits directly above `node`: it ends on the
 * line before the declaration (or on its line). A module's header comment followed by a blank
 * line describes the module, not the first export, even though TypeScript attaches it to both.
 */
function documented(node: ts.Node): boolean {
  const sf = node.getSourceFile();
  const line = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line;
  const start = line(node.getStart(sf));
  const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc ?? [];
  return docs.some((d) => {
    if (start - line(d.getEnd()) > 1) return false;
    const body = d
      .getText()
      .replace(/^\/\*\*|\*\/$/g, '')
      .replace(/^\s*\*/gm, '')
      .trim();
    return body.length > 0;
  });
}

interface Missing {
  where: string;
  name: string;
}

function nameOf(node: ts.Node & { name?: ts.Node }, fallback = 'default'): string {
  return node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name) || ts.isPrivateIdentifier(node.name))
    ? node.name.text
    : node.name
      ? node.name.getText()
      : fallback;
}

/** The exported declarations of one file that lack a doc comment. */
function undocumented(sf: ts.SourceFile, checker: ts.TypeChecker): Missing[] {
  const file = sf.fileName;
  const out: Missing[] = [];
  const rel = relative(ROOT, file);
  const report = (node: ts.Node, name: string) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    out.push({ where: `${rel}:${line}`, name });
  };
  const check = (node: ts.Node, name: string) => {
    if (!documented(node)) report(node, name);
  };

  // Local names listed in `export { a, b as c }` (no `from`): their declarations are exports too.
  const exportedLocals = new Set<string>();
  for (const st of sf.statements) {
    if (ts.isExportDeclaration(st) && !st.moduleSpecifier && st.exportClause && ts.isNamedExports(st.exportClause)) {
      for (const el of st.exportClause.elements) exportedLocals.add((el.propertyName ?? el.name).text);
    }
  }
  const isExported = (st: ts.Statement, names: string[]) =>
    hasModifier(st, ts.SyntaxKind.ExportKeyword) || names.some((n) => exportedLocals.has(n));

  // A member named `key` of a class is documented by the same member of any interface it
  // implements or class it extends, when that one has a doc comment.
  const inherited = (cls: ts.ClassDeclaration, key: string) =>
    (cls.heritageClauses ?? []).some((h) =>
      h.types.some((t) => {
        const prop = checker.getTypeAtLocation(t).getProperty(key);
        return (prop?.getDocumentationComment(checker) ?? []).some((p) => p.text.trim().length > 0);
      }),
    );

  const checkClassMembers = (cls: ts.ClassDeclaration, className: string) => {
    const seen = new Map<string, ts.Node[]>();
    for (const m of cls.members) {
      if (!(ts.isMethodDeclaration(m) || ts.isGetAccessorDeclaration(m) || ts.isSetAccessorDeclaration(m))) continue;
      if (hasModifier(m, ts.SyntaxKind.PrivateKeyword) || hasModifier(m, ts.SyntaxKind.ProtectedKeyword)) continue;
      if (m.name && ts.isPrivateIdentifier(m.name)) continue;
      const key = nameOf(m);
      seen.set(key, [...(seen.get(key) ?? []), m]);
    }
    // Overloads and get/set pairs: one comment on any of the declarations documents the member.
    for (const [key, decls] of seen) {
      if (!decls.some(documented) && !inherited(cls, key)) report(decls[0]!, `${className}.${key}`);
    }
  };

  // Function overloads: one comment on any signature documents the function.
  const fnDecls = new Map<string, ts.FunctionDeclaration[]>();
  for (const st of sf.statements) {
    if (ts.isFunctionDeclaration(st)) {
      const n = nameOf(st);
      if (!isExported(st, [n])) continue;
      fnDecls.set(n, [...(fnDecls.get(n) ?? []), st]);
    } else if (ts.isClassDeclaration(st)) {
      const n = nameOf(st);
      if (!isExported(st, [n])) continue;
      check(st, n);
      checkClassMembers(st, n);
    } else if (ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st) || ts.isModuleDeclaration(st)) {
      const n = nameOf(st);
      if (isExported(st, [n])) check(st, n);
    } else if (ts.isVariableStatement(st)) {
      const names = st.declarationList.declarations.map((d) => d.name.getText(sf));
      if (isExported(st, names)) check(st, names.join(', '));
    } else if (ts.isExportAssignment(st)) {
      check(st, 'default');
    }
  }
  for (const [n, decls] of fnDecls) {
    if (!decls.some(documented)) report(decls[0]!, n);
  }
  return out.sort((a, b) => a.where.localeCompare(b.where, undefined, { numeric: true }));
}

/**
 * A program over `files` (path → text, or read from disk when text is undefined). `bare`: without
 * the standard library and @types/node (enough for the fixture, and much faster to build).
 */
function program(files: Map<string, string | undefined>, bare = false): ts.Program {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: bare ? [] : ['node'],
    noLib: bare,
  };
  const host = ts.createCompilerHost(options, true);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (f) => files.get(f) ?? readFile(f);
  host.fileExists = (f) => files.get(f) !== undefined || fileExists(f);
  return ts.createProgram([...files.keys()], options, host);
}

/** The undocumented exports of the given files. */
function scan(files: Map<string, string | undefined>, bare = false): string[] {
  const prog = program(files, bare);
  const checker = prog.getTypeChecker();
  return [...files.keys()].flatMap((f) => undocumented(prog.getSourceFile(f)!, checker)).map((m) => `${m.where} ${m.name}`);
}

describe('doc comments on exports', () => {
  it('the checker sees what it should (fixture)', () => {
    const fixture = [
      '/** Documented. */',
      'export function a() {}',
      'export function b() {}',
      'export const c = 1, d = 2;',
      '/** Overloads: one comment is enough. */',
      'export function e(x: string): void;',
      'export function e(x: number): void;',
      'export function e(x: unknown) {}',
      '/** A class. */',
      'export class K {',
      '  /** Doc. */ m() {}',
      '  n() {}',
      '  private p() {}',
      '  #q() {}',
      '  constructor() {}',
      '}',
      'function local() {}',
      'function hidden() {}',
      'export { hidden as shown };',
      "export { x } from './x.js';",
      '/** */',
      'export type T = 1;',
      'export interface I {}',
      '/** A sink. */',
      'export interface S {',
      '  /** Takes a key. */ key(): void;',
      '  other(): void;',
      '}',
      '/** Implements S. */',
      'export class Impl implements S {',
      '  key() {}',
      '  other() {}',
      '}',
      '/** Extends K. */',
      'export class Sub extends K {',
      '  m() {}',
      '}',
      '/** A module header, then a blank line: not the doc of what follows. */',
      '',
      'export const afterBlank = 1;',
    ].join('\n');
    const names = scan(new Map([[join(ROOT, 'fixture.ts'), fixture]]), true);
    expect(names).toEqual([
      'fixture.ts:3 b',
      'fixture.ts:4 c, d',
      'fixture.ts:12 K.n',
      'fixture.ts:18 hidden',
      'fixture.ts:22 T',
      'fixture.ts:23 I',
      'fixture.ts:32 Impl.other',
      'fixture.ts:40 afterBlank',
    ]);
  });

  it('every export in src/ and guest-stub/ has a doc comment', () => {
    const files = DIRS.flatMap((d) => sources(join(ROOT, d)));
    expect(files.length).toBeGreaterThan(20);
    const list = scan(new Map(files.map((f) => [f, undefined])));
    if (list.length) console.log(`${list.length} exports without a doc comment:\n${list.join('\n')}`);
    expect(list, `exports without a /** doc comment */ (${list.length})`).toEqual([]);
  });
});
