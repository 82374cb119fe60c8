import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { didYouMean, editDistance } from '../../src/config/did-you-mean.ts';
import { displayPath } from '../../src/config/display-path.ts';
import { parseYamlDocument, YAML_LIMITS } from '../../src/config/yaml-document.ts';
import type { Diagnostic } from '../../src/model/diagnostic.ts';

const where = (d: Diagnostic | undefined) => `${d?.file}:${d?.line}:${d?.col}`;

function only(text: string): Diagnostic {
  const r = parseYamlDocument(text, 'f.yaml');
  assert.equal(r.doc, undefined, 'expected the document to be refused');
  assert.equal(r.diagnostics.length, 1, JSON.stringify(r.diagnostics));
  return r.diagnostics[0] as Diagnostic;
}

describe('parseYamlDocument', () => {
  it('reads a document as plain data with the YAML 1.2 core schema', () => {
    const r = parseYamlDocument('a: yes\nb: on\nc: no\nd: true\ne: 010\nf: 0x10\ng: ~\nh: 1.5\n', 'f.yaml');
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.doc?.value, { a: 'yes', b: 'on', c: 'no', d: true, e: 10, f: 16, g: null, h: 1.5 });
  });

  it('reads numeric and boolean keys as text', () => {
    const r = parseYamlDocument('1: a\ntrue: b\n', 'f.yaml');
    assert.deepEqual(r.doc?.value, { '1': 'a', true: 'b' });
  });

  it('gives an empty file the value null', () => {
    for (const text of ['', '# only a comment\n', '---\n']) {
      const r = parseYamlDocument(text, 'f.yaml');
      assert.deepEqual(r.diagnostics, []);
      assert.equal(r.doc?.value, null);
      assert.equal(r.doc?.locate(['a']).line, 1);
    }
  });

  it('refuses a duplicate key, at the duplicate', () => {
    const d = only('name: a\nvrid: 1\nname: b\n');
    assert.equal(where(d), 'f.yaml:3:1');
    assert.match(d.message, /duplicate key "name" \(first given on line 1\)/);
  });

  it('refuses a duplicate key in a nested flow map', () => {
    const d = only('a:\n  b: { x: 1, y: 2, x: 3 }\n');
    assert.equal(where(d), 'f.yaml:2:20');
  });

  it('finds a duplicate among 30,000 keys (a linear check; the quadratic one took seconds)', () => {
    const text = Array.from({ length: 30_000 }, (_, i) => `k${i}: ${i}`).join('\n');
    const r = parseYamlDocument(`${text}\nk7: 1\n`, 'f.yaml');
    // The yaml package's own check is quadratic: about 4 s here.
    assert.equal(r.diagnostics.length, 1);
    assert.equal(r.diagnostics[0]?.line, 30_001);
  });

  it('refuses binary input without echoing it', () => {
    const d = only('a: 1\nb: \u0000\u00ff\ufffd\n');
    assert.equal(where(d), 'f.yaml:2:1');
    assert.match(d.message, /not a UTF-8 text file/);
  });

  it('refuses a second document, naming its line', () => {
    const d = only('a: 1\nb: 2\n---\nc: 3\n');
    assert.equal(where(d), 'f.yaml:3:1');
    assert.match(d.message, /second YAML document/);
  });

  it('reports a syntax error at its line and column, briefly', () => {
    const d = only('a: 1\nb: [1, 2\nc: 3\n');
    assert.equal(d.line, 3);
    assert.doesNotMatch(d.message, /\n/);
    assert.match(d.message, /^[a-z]/);
  });

  it('reports a bad indentation', () => {
    const d = only('a:\n  b: 1\n c: 2\n');
    assert.equal(where(d), 'f.yaml:3:1');
    assert.match(d.message, /same column/);
  });

  it('reports a tab used for indentation', () => {
    const d = only('a:\n\tb: 1\n');
    assert.equal(d.line, 2);
    assert.match(d.message, /tab/);
  });

  it('reports an unclosed quote', () => {
    const d = only('a: "x\n');
    assert.match(d.message, /quote/);
  });

  it('reports a compact nested map', () => {
    const d = only('a: b: c\n');
    assert.equal(where(d), 'f.yaml:1:4');
  });

  it('does not echo the text of the line it cannot parse', () => {
    const r = parseYamlDocument('- a\npassword: hunter2\n', 'f.yaml');
    assert.ok(r.diagnostics.length >= 1);
    for (const d of r.diagnostics) assert.doesNotMatch(d.message, /hunter2/);
  });

  it('refuses tags outside the core schema, allows core ones', () => {
    const r = parseYamlDocument('a: !foo x\nb: !!binary aGVsbG8=\nc: !!str 1\n', 'f.yaml');
    assert.equal(r.doc, undefined);
    assert.deepEqual(
      r.diagnostics.map((d) => [d.line, d.message]),
      [
        [1, 'tag !foo is not supported; write plain YAML values'],
        [2, 'tag !!binary is not supported; write plain YAML values'],
      ],
    );
    assert.deepEqual(parseYamlDocument('c: !!str 1\n', 'f.yaml').doc?.value, { c: '1' });
  });

  it('refuses a non-text key', () => {
    const d = only('? [1]\n: 2\n');
    assert.match(d.message, /key must be plain text/);
  });

  it('refuses an alias without an anchor, at the alias', () => {
    const d = only('a: &x 1\nb: *y\n');
    assert.equal(where(d), 'f.yaml:2:4');
    assert.match(d.message, /alias \*y/);
  });

  it('resolves a few aliases', () => {
    const r = parseYamlDocument('x: &c { a: 1 }\ny: *c\nz: *c\n', 'f.yaml');
    assert.deepEqual(r.doc?.value, { x: { a: 1 }, y: { a: 1 }, z: { a: 1 } });
  });

  it('refuses an alias bomb', () => {
    let text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let i = 1; i < 9; i++) {
      const p = String.fromCharCode(96 + i);
      const c = String.fromCharCode(97 + i);
      text += `${c}: &${c} [${new Array(9).fill(`*${p}`).join(',')}]\n`;
    }
    const d = only(text);
    assert.match(d.message, /aliases expand to too many copies/);
  });

  it('refuses deep nesting before it can exhaust the stack', () => {
    const flow = only(`${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    assert.match(flow.message, /nested more than 64 levels/);
    assert.equal(where(flow), `f.yaml:1:${YAML_LIMITS.maxDepth + 1}`);
    const compact = only(`${'- '.repeat(5000)}x`);
    assert.match(compact.message, /nested more than 64 levels/);
    const block = only(Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'));
    assert.match(block.message, /nested/);
  });

  it('refuses a file over the size limit without parsing it', () => {
    const d = only(`a: "${'x'.repeat(YAML_LIMITS.maxBytes)}"\n`);
    assert.match(d.message, /keepgit reads at most 2\.0 MiB/);
  });

  describe('locate', () => {
    const text = [
      'apiVersion: keepgit/v1', // 1
      'instances:', // 2
      '  - name: www-http', // 3
      '    vrid: 100', // 4
      '    priority: { lb1: 110, lb2: 100 }', // 5
      '    vips:', // 6
      '      - 203.0.113.10/32', // 7
      '    notify:', // 8
      '  - name: other', // 9
    ].join('\n');
    const doc = parseYamlDocument(text, 'keepgit.yaml').doc;
    assert.ok(doc);

    it('finds the value at a path, 1-based', () => {
      assert.deepEqual(doc.locate(['instances', 0, 'vrid']), { line: 4, col: 11 });
      assert.deepEqual(doc.locate(['instances', 0, 'priority', 'lb2']), { line: 5, col: 32 });
      assert.deepEqual(doc.locate(['instances', 0, 'vips', 0]), { line: 7, col: 9 });
      assert.deepEqual(doc.locate(['instances', 1]), { line: 9, col: 5 });
    });

    it('finds the key of a map entry', () => {
      assert.deepEqual(doc.locateKey(['instances', 0, 'vrid']), { line: 4, col: 5 });
      assert.deepEqual(doc.locateKey(['instances', 0, 'priority', 'lb2']), { line: 5, col: 27 });
    });

    it('points an empty value at its key', () => {
      assert.deepEqual(doc.locate(['instances', 0, 'notify']), { line: 8, col: 5 });
    });

    it('falls back to the nearest ancestor that exists', () => {
      assert.deepEqual(doc.locate(['instances', 0, 'missing', 'deeper']), { line: 3, col: 5 });
      assert.deepEqual(doc.locate(['instances', 7, 'name']), { line: 3, col: 3 });
      assert.deepEqual(doc.locate(['nothing']), { line: 1, col: 1 });
      assert.deepEqual(doc.locate([]), { line: 1, col: 1 });
    });

    it('follows aliases', () => {
      const d = parseYamlDocument('base: &b\n  port: 80\nuse: *b\n', 'f.yaml').doc;
      assert.deepEqual(d?.locate(['use', 'port']), { line: 2, col: 9 });
    });
  });
});

describe('displayPath', () => {
  const doc = {
    instances: [{ name: 'www-http', priority: { lb1: 1 } }, { vrid: 2 }],
    virtualServers: [
      {
        name: 'www-80',
        realServers: [
          { address: '198.51.100.11', port: 80, weight: 1 },
          { address: '2001:db8::1', port: 443 },
          { address: '198.51.100.12' },
          { weight: 1 },
        ],
      },
    ],
  };

  it('names list items by name', () => {
    assert.equal(displayPath(doc, ['instances', 0, 'priority']), 'instances.www-http.priority');
    assert.equal(displayPath(doc, ['instances', 0, 'priority', 'lb1']), 'instances.www-http.priority.lb1');
  });

  it('names real servers by address and port', () => {
    assert.equal(
      displayPath(doc, ['virtualServers', 0, 'realServers', 0, 'weight']),
      'virtualServers.www-80.realServers[198.51.100.11:80].weight',
    );
    assert.equal(
      displayPath(doc, ['virtualServers', 0, 'realServers', 1]),
      'virtualServers.www-80.realServers[[2001:db8::1]:443]',
    );
    assert.equal(
      displayPath(doc, ['virtualServers', 0, 'realServers', 2]),
      'virtualServers.www-80.realServers[198.51.100.12]',
    );
  });

  it('falls back to the index', () => {
    assert.equal(displayPath(doc, ['instances', 1, 'vrid']), 'instances[1].vrid');
    assert.equal(
      displayPath(doc, ['virtualServers', 0, 'realServers', 3]),
      'virtualServers.www-80.realServers[3]',
    );
    assert.equal(displayPath(doc, ['instances', 9, 'x']), 'instances[9].x');
    assert.equal(displayPath([{ name: 'a' }], [0, 'b']), 'a.b');
    assert.equal(displayPath(doc, []), '');
  });
});

describe('didYouMean', () => {
  it('counts a swap of neighbours as one edit', () => {
    assert.equal(editDistance('prioirty', 'priority'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  it('suggests close names only', () => {
    assert.equal(didYouMean('prioirty', ['priority', 'preempt']), 'priority');
    assert.equal(didYouMean('VRID', ['vrid']), 'vrid');
    assert.equal(didYouMean('zzz', ['priority']), undefined);
    assert.equal(didYouMean('lb3', ['lb1', 'lb2']), undefined);
    assert.equal(didYouMean('x'.repeat(100), ['x']), undefined);
  });
});
