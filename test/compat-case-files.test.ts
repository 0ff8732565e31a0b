import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaseError, caseNames, loadCase, substitute } from './compat/cases.js';

/* The case files themselves (fast; compat-cases.test.ts runs them against `witshim serve`). */

function caseFrom(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'witshim-cases-'));
  writeFileSync(join(dir, 'c.toml'), text);
  return () => loadCase('c', dir);
}

describe('compat case files', () => {
  it.each(caseNames())('%s loads, names a committed guest and checks something in every request', (name) => {
    const c = loadCase(name);
    expect(existsSync(c.guest), c.guest).toBe(true);
    expect(c.description.length).toBeGreaterThan(10);
    expect(c.requests.length).toBeGreaterThan(0);
  });

  it('rejects unknown keys, wrong types and requests that check nothing, naming the file', () => {
    expect(caseFrom('description = "d"\nguest = "hello"\nrequest = []\n')).toThrow(/c\.toml: top level: unknown key\(s\) request/);
    expect(caseFrom('description = "d"\nguest = "hello"\n[[requests]]\nexpect.stauts = 200\n')).toThrow(/requests\[0\]\.expect: unknown key\(s\) stauts/);
    expect(caseFrom('description = "d"\nguest = "hello"\n[[requests]]\npath = "/"\n')).toThrow(/requests\[0\]\.expect checks nothing/);
    expect(caseFrom('description = "d"\nguest = "hello"\n[[requests]]\nexpect.status = "200"\n')).toThrow(/expect\.status: expected an integer/);
    expect(caseFrom('description = "d"\nguest = "hello"\n')).toThrow(CaseError);
  });

  it('fills placeholders everywhere and refuses unknown ones', () => {
    const load = caseFrom('description = "d"\nguest = "hello"\n[[requests]]\npath = "/{{a}}"\nexpect.body = "{{a}}-{{b}}"\nexpect.logs = ["{{b}}"]\n');
    const filled = substitute(load(), { a: 'x', b: 'y' });
    expect(filled.requests[0]).toMatchObject({ path: '/x', expect: { body: 'x-y', logs: ['y'] } });
    expect(() => substitute(load(), { a: 'x' })).toThrow(/unknown placeholder \{\{b\}\}/);
  });
});
