// Where a problem in a lab file is: YAML parse errors and schema issues both
// end as a LabProblem with line, column and field path, for the page and for
// `npm run lab:check`, which print them the same way.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

export type LabPath = (string | number)[];

/** One problem in a lab file: 1-based line and column, the field's path, and what is wrong. */
export interface LabProblem {
  line: number;
  col: number;
  /** e.g. "steps[1].checks[0].guest"; "" for the whole file. */
  path: string;
  message: string;
}

/** "steps[1].checks[0].guest" for ["steps", 1, "checks", 0, "guest"]. */
export function formatPath(path: LabPath): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

/** "lab.yaml:12:5: steps[1].title: must not be empty" */
export function formatProblem(file: string, p: LabProblem): string {
  return `${file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** A parsed YAML document that can say where a path is. */
export class LocatedYaml {
  readonly value: unknown;
  readonly problems: LabProblem[] = [];
  private readonly doc: Document;
  private readonly lines = new LineCounter();

  constructor(text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false });
    for (const e of [...this.doc.errors, ...this.doc.warnings]) {
      const at = this.position(e.pos[0]);
      this.problems.push({ ...at, path: '', message: e.message.split('\n')[0]! });
    }
    this.value = this.problems.length > 0 ? undefined : this.doc.toJS({ maxAliasCount: 100 });
  }

  /** Line and column of `path`; a missing key points at its parent, a key named by `keyOf` at the key itself. */
  locate(path: LabPath, keyOf = false): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let at = 0;
    for (let i = 0; i < path.length; i++) {
      const key = path[i];
      if (node && typeof node === 'object' && 'range' in node) at = (node as Node).range?.[0] ?? at;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
        if (!pair) return this.position(at);
        const last = i === path.length - 1;
        if (last && keyOf && isScalar(pair.key)) return this.position(pair.key.range?.[0] ?? at);
        node = pair.value ?? pair.key;
        if (!pair.value && isScalar(pair.key)) at = pair.key.range?.[0] ?? at;
      } else if (isSeq(node) && typeof key === 'number') {
        const item = node.items[key];
        if (!item) return this.position(at);
        node = item;
      } else {
        return this.position(at);
      }
    }
    if (node && typeof node === 'object' && 'range' in node) at = (node as Node).range?.[0] ?? at;
    return this.position(at);
  }

  private position(offset: number): { line: number; col: number } {
    const p = this.lines.linePos(offset);
    return { line: p.line, col: p.col };
  }
}
