// biome-ignore-all lint/suspicious/noTemplateCurlyInString: keepalived parameters are written ${NAME}
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type {
  KaIncludeResolver,
  KaNotice,
  KaParseResult,
  KaStatement,
} from '../../src/config/keepalived-ast.ts';
import { type KaParseOptions, parseKeepalivedConf } from '../../src/config/keepalived-parse.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/keepalived');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

function ok(
  text: string,
  include?: KaIncludeResolver,
  options?: KaParseOptions,
): { statements: KaStatement[]; notices: KaNotice[] } {
  const r = parseKeepalivedConf(text, 'test.conf', include, options);
  if (!r.ok) assert.fail(`expected ok, got ${r.error.pos.file}:${r.error.pos.line}: ${r.error.message}`);
  return r;
}

function err(text: string, include?: KaIncludeResolver): { file: string; line: number; message: string } {
  const r = parseKeepalivedConf(text, 'test.conf', include);
  if (r.ok) assert.fail(`expected an error, got ${JSON.stringify(r.statements).slice(0, 200)}`);
  return { ...r.error.pos, message: r.error.message };
}

/** keyword, args and block only: what a reader of the file sees, without positions. */
type Shape = [string, string[], Shape[]?];
function shape(stmts: KaStatement[]): Shape[] {
  return stmts.map((s) => (s.block ? [s.keyword, s.args, shape(s.block)] : [s.keyword, s.args]));
}

function child(stmts: KaStatement[] | undefined, keyword: string, nth = 0): KaStatement {
  const found = (stmts ?? []).filter((s) => s.keyword === keyword)[nth];
  assert.ok(found, `no ${keyword} #${nth}`);
  return found;
}

/** Files by name; a pattern ending in * matches every name with that prefix, in order. */
function resolver(files: Record<string, string>, calls?: [string, string][]): KaIncludeResolver {
  return (pattern, from) => {
    calls?.push([pattern, from]);
    const names = pattern.endsWith('*')
      ? Object.keys(files)
          .filter((n) => n.startsWith(pattern.slice(0, -1)))
          .sort()
      : Object.keys(files).filter((n) => n === pattern);
    return names.map((file) => ({ file, text: files[file] as string }));
  };
}

describe('keepalived.conf fixtures', () => {
  const names = readdirSync(FIXTURES).filter((n) => n.endsWith('.conf'));

  test('there are fixtures', () => assert.ok(names.length >= 10));

  for (const name of names) {
    test(`${name} parses`, () => {
      const r = parseKeepalivedConf(fixture(name), name);
      assert.ok(r.ok, r.ok ? '' : `${r.error.pos.line}: ${r.error.message}`);
      assert.ok(r.statements.length > 0);
      assert.deepEqual(r.notices, []);
      for (const s of r.statements) assert.equal(s.pos.file, name);
    });
  }

  test('rtr-master.conf: comments after values and Korean comments are stripped', () => {
    const { statements } = ok(fixture('rtr-master.conf'));
    assert.deepEqual(shape([child(statements, 'global_defs')]), [
      ['global_defs', [], [['router_id', ['rtr_0']]]],
    ]);
    const vi = child(statements, 'vrrp_instance');
    assert.deepEqual(vi.args, ['VI_0']);
    assert.equal(vi.pos.line, 5);
    assert.deepEqual(child(vi.block, 'priority').args, ['200']);
    assert.deepEqual(child(vi.block, 'interface').args, ['eth0']);
    assert.deepEqual(shape(child(vi.block, 'authentication').block ?? []), [
      ['auth_type', ['PASS']],
      ['auth_pass', ['P@ssW0rd']],
    ]);
    assert.deepEqual(shape(child(vi.block, 'virtual_ipaddress').block ?? []), [['192.168.0.100', []]]);
    assert.equal(child(vi.block, 'virtual_ipaddress').pos.line, 15);
  });

  test('pair-eth1-master.conf: no indentation at all', () => {
    const { statements } = ok(fixture('pair-eth1-master.conf'));
    assert.deepEqual(shape(statements), [
      [
        'vrrp_instance',
        ['VI_1'],
        [
          ['state', ['MASTER']],
          ['interface', ['eth1']],
          ['virtual_router_id', ['51']],
          ['priority', ['200']],
          ['advert_int', ['1']],
          [
            'authentication',
            [],
            [
              ['auth_type', ['PASS']],
              ['auth_pass', ['1010']],
            ],
          ],
          ['virtual_ipaddress', [], [['192.168.100.250', []]]],
        ],
      ],
    ]);
  });

  test('upstream-sample.conf: virtual servers with nested url blocks', () => {
    const { statements } = ok(fixture('upstream-sample.conf'));
    assert.deepEqual(
      statements.map((s) => s.keyword),
      ['global_defs', 'vrrp_instance', 'virtual_server', 'virtual_server', 'virtual_server'],
    );
    const emails = child(child(statements, 'global_defs').block, 'notification_email').block ?? [];
    assert.deepEqual(
      emails.map((s) => s.keyword),
      ['acassen@firewall.loc', 'failover@firewall.loc', 'sysadmin@firewall.loc'],
    );
    const vs = child(statements, 'virtual_server');
    assert.deepEqual(vs.args, ['192.168.200.100', '443']);
    const ssl = child(child(vs.block, 'real_server').block, 'SSL_GET');
    assert.deepEqual(shape(ssl.block ?? []).slice(0, 2), [
      [
        'url',
        [],
        [
          ['path', ['/']],
          ['digest', ['ff20ad2481f97b1754ef3e12ecd3a9cc']],
        ],
      ],
      [
        'url',
        [],
        [
          ['path', ['/mrtg/']],
          ['digest', ['9b3a0c85a887a256d6939da88aabd8cd']],
        ],
      ],
    ]);
    const vs2 = child(statements, 'virtual_server', 1);
    assert.deepEqual(child(vs2.block, 'sorry_server').args, ['192.168.200.200', '1358']);
    const http = child(child(vs2.block, 'real_server', 1).block, 'HTTP_GET');
    assert.equal(http.block?.filter((s) => s.keyword === 'url').length, 2);
  });

  test('lvs-nat-sh-master.conf: commented-out lines and blank lines with spaces', () => {
    const { statements } = ok(fixture('lvs-nat-sh-master.conf'));
    const group = child(child(statements, 'vrrp_sync_group').block, 'group');
    assert.deepEqual(shape(group.block ?? []), [
      ['www-http01_vrrp', []],
      ['www-https01_vrrp', []],
    ]);
    assert.equal(child(statements, 'vrrp_sync_group').block?.length, 1);
    assert.deepEqual(child(child(statements, 'global_defs').block, 'smtp_server').args, ['127.0.0.1']);
  });

  test('tracking-master.conf: the script path loses its quotes', () => {
    const { statements } = ok(fixture('tracking-master.conf'));
    assert.deepEqual(child(child(statements, 'vrrp_script').block, 'script').args, [
      '/etc/keepalived/check.sh',
    ]);
    const vi = child(statements, 'vrrp_instance');
    assert.deepEqual(child(child(vi.block, 'track_interface').block, 'ens9').args, ['weight', '5']);
    assert.deepEqual(child(vi.block, 'nopreempt').args, []);
  });
});

describe('statements and blocks', () => {
  test('a block on one line, and several statements and braces on one line', () => {
    const { statements } = ok('virtual_ipaddress { 192.0.2.1 }\na { b { c 1 } } d 2\n');
    assert.deepEqual(shape(statements), [
      ['virtual_ipaddress', [], [['192.0.2.1', []]]],
      ['a', [], [['b', [], [['c', ['1']]]]]],
      ['d', ['2']],
    ]);
    assert.deepEqual(
      statements.map((s) => s.pos.line),
      [1, 2, 2],
    );
  });

  test('text after a closing brace starts a new statement', () => {
    const { statements } = ok('x {\n  y 1\n} z 2\n');
    assert.deepEqual(shape(statements), [
      ['x', [], [['y', ['1']]]],
      ['z', ['2']],
    ]);
    assert.equal(statements[1]?.pos.line, 3);
  });

  test('an empty block is kept, and differs from no block', () => {
    const { statements } = ok('a {}\nb\n');
    assert.deepEqual(statements[0]?.block, []);
    assert.equal(statements[1]?.block, undefined);
  });

  test('the brace on the next line, even after a comment line', () => {
    const { statements } = ok('vrrp_instance VI_1\n{\n  state MASTER\n}\nglobal_defs\n# why\n\n  {\n}\n');
    assert.deepEqual(shape(statements), [
      ['vrrp_instance', ['VI_1'], [['state', ['MASTER']]]],
      ['global_defs', [], []],
    ]);
    assert.equal(statements[0]?.pos.line, 1);
  });

  test('tabs, CRLF line endings, a byte-order mark, and no final newline', () => {
    const { statements } = ok('\ufeffglobal_defs {\r\n\trouter_id\tlb1\r\n\t}\r\nx  \t y');
    assert.deepEqual(shape(statements), [
      ['global_defs', [], [['router_id', ['lb1']]]],
      ['x', ['y']],
    ]);
  });

  test('keywords keep their case', () => {
    const { statements } = ok('HTTP_GET {\n  Url {\n  }\n}\n');
    assert.deepEqual(shape(statements), [['HTTP_GET', [], [['Url', [], []]]]]);
  });
});

describe('comments', () => {
  test('# and ! anywhere outside quotes, including right after a value', () => {
    const { statements } = ok(
      '! header\n# header\npriority 200  # note\nstate MASTER! note\nweight 1#x\n   # indented\n',
    );
    assert.deepEqual(shape(statements), [
      ['priority', ['200']],
      ['state', ['MASTER']],
      ['weight', ['1']],
    ]);
  });

  test('non-ASCII comments and a brace before a comment', () => {
    const { statements } = ok(
      'vrrp_instance VI_0 {    # Master와 Backup 구분\n  priority 200 ! 우선순위\n} # 끝\n',
    );
    assert.deepEqual(shape(statements), [['vrrp_instance', ['VI_0'], [['priority', ['200']]]]]);
  });

  test('a commented-out brace does not count', () => {
    const { statements } = ok('a {\n  # b {\n}\n! }\n');
    assert.deepEqual(shape(statements), [['a', [], []]]);
  });

  test('a backslash escapes # and ! outside quotes', () => {
    const { statements } = ok('auth_pass pa\\#ss\\!word # comment\n');
    assert.deepEqual(shape(statements), [['auth_pass', ['pa#ss!word']]]);
  });
});

describe('quoted strings', () => {
  test('double quotes group words and are removed', () => {
    const { statements } = ok('script "/etc/keepalived/check.sh arg"\nnotify "a b"  c "d"\n');
    assert.deepEqual(shape(statements), [
      ['script', ['/etc/keepalived/check.sh arg']],
      ['notify', ['a b', 'c', 'd']],
    ]);
  });

  test('comment characters and braces inside quotes are kept', () => {
    const { statements } = ok('misc_path "/bin/check # not ! a { comment }"  # real comment\n');
    assert.deepEqual(shape(statements), [['misc_path', ['/bin/check # not ! a { comment }']]]);
  });

  test('quoted parts join the word they touch; an empty pair is an empty argument', () => {
    const { statements } = ok('a abc"d e"f ""\nnotification_email {\n  "My admin <admin@example2.com>"\n}\n');
    assert.deepEqual(shape(statements), [
      ['a', ['abcd ef', '']],
      ['notification_email', [], [['My admin <admin@example2.com>', []]]],
    ]);
  });

  test('single quotes and escaped double quotes stay in the text', () => {
    const { statements } = ok(`notify_master "/x.sh 'a b' \\"c\\"" it's\n`);
    assert.deepEqual(shape(statements), [['notify_master', [`/x.sh 'a b' \\"c\\"`, "it's"]]]);
  });

  test('an unterminated quote is an error on its line', () => {
    const e = err('a {\n  script "/bin/x\n}\n');
    assert.equal(e.line, 2);
    assert.match(e.message, /unterminated quote/);
  });
});

describe('include', () => {
  test('a glob of two files is spliced in place, positions keep their own files', () => {
    const calls: [string, string][] = [];
    const include = resolver(
      {
        '/etc/keepalived/conf.d/a.conf': 'real_server 10.0.0.1 80 {\n  weight 1\n}\n',
        '/etc/keepalived/conf.d/b.conf': '\n\nreal_server 10.0.0.2 80\n',
      },
      calls,
    );
    const { statements, notices } = ok(
      'virtual_server 192.0.2.1 80 {\n  lb_algo rr\n  include /etc/keepalived/conf.d/*\n  protocol TCP\n}\n',
      include,
    );
    assert.deepEqual(calls, [['/etc/keepalived/conf.d/*', 'test.conf']]);
    assert.deepEqual(notices, []);
    const vs = statements[0] as KaStatement;
    assert.deepEqual(shape(vs.block ?? []), [
      ['lb_algo', ['rr']],
      ['real_server', ['10.0.0.1', '80'], [['weight', ['1']]]],
      ['real_server', ['10.0.0.2', '80']],
      ['protocol', ['TCP']],
    ]);
    assert.deepEqual(
      (vs.block ?? []).map((s) => `${s.pos.file}:${s.pos.line}`),
      ['test.conf:2', '/etc/keepalived/conf.d/a.conf:1', '/etc/keepalived/conf.d/b.conf:3', 'test.conf:4'],
    );
    assert.equal(vs.block?.[1]?.block?.[0]?.pos.file, '/etc/keepalived/conf.d/a.conf');
  });

  test('nested includes pass the including file, and variants and quotes are understood', () => {
    const calls: [string, string][] = [];
    const include = resolver({ 'a.conf': 'a 1\nincluder b.conf\n', 'b.conf': 'b 2\n' }, calls);
    const { statements } = ok('includea "a.conf"\ninclude_check readable\nincludes x\n', include);
    assert.deepEqual(calls, [
      ['a.conf', 'test.conf'],
      ['b.conf', 'a.conf'],
    ]);
    assert.deepEqual(shape(statements), [
      ['a', ['1']],
      ['b', ['2']],
      ['include_check', ['readable']],
      ['includes', ['x']],
    ]);
  });

  test('include takes the rest of the line, braces included, as keepalived does', () => {
    // keepalived hands the rest of the line to glob(), which knows csh brace expansion.
    const calls: [string, string][] = [];
    const e = err('x { include b.conf }\n', resolver({ 'b.conf': 'b 2\n' }, calls));
    assert.deepEqual(calls, [['b.conf }', 'test.conf']]);
    assert.equal(e.line, 1);
    assert.match(e.message, /"x" opened here is never closed/);
  });

  test('include right after a brace, and an include after a closed block', () => {
    const include = resolver({ 'b.conf': 'b 2\n' });
    const { statements } = ok('x {\n} include b.conf\ny { include b.conf\n}\n', include);
    assert.deepEqual(shape(statements), [
      ['x', [], []],
      ['b', ['2']],
      ['y', [], [['b', ['2']]]],
    ]);
  });

  test('a brace cannot open a block on a statement before the include', () => {
    const include = resolver({ 'b.conf': 'b 2\n' });
    const e = err('a\ninclude b.conf\n{\n}\n', include);
    assert.equal(e.line, 3);
  });

  test('a cycle is an error naming the chain', () => {
    const include = resolver({
      'test.conf': 'include a.conf\n',
      'a.conf': 'x 1\ninclude b.conf\n',
      'b.conf': 'include a.conf\n',
    });
    const e = err('include a.conf\n', include);
    assert.equal(e.file, 'b.conf');
    assert.equal(e.line, 1);
    assert.match(e.message, /include cycle: test\.conf -> a\.conf -> b\.conf -> a\.conf/);
    assert.match(err('include test.conf\n', include).message, /include cycle/);
  });

  test('the same file twice without a cycle is fine', () => {
    const include = resolver({ 'a.conf': 'a 1\n' });
    assert.deepEqual(shape(ok('include a.conf\ninclude a.conf\n', include).statements), [
      ['a', ['1']],
      ['a', ['1']],
    ]);
  });

  test('includes deeper than 10 files are an error', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`f${i}.conf`] = `k${i}\ninclude f${i + 1}.conf\n`;
    const include = resolver(files);
    const e = err('include f0.conf\n', include);
    assert.match(e.message, /deeper than 10/);
    assert.equal(e.file, 'f9.conf');
  });

  test('no match, or no resolver, is a notice', () => {
    const none = ok('include /etc/keepalived/conf.d/*.conf\na 1\n', resolver({}));
    assert.deepEqual(shape(none.statements), [['a', ['1']]]);
    assert.deepEqual(none.notices, [
      {
        pos: { file: 'test.conf', line: 1 },
        message: 'include /etc/keepalived/conf.d/*.conf matched no file',
      },
    ]);
    const noResolver = ok('include x.conf\n');
    assert.equal(noResolver.notices.length, 1);
    assert.match(noResolver.notices[0]?.message ?? '', /^include x\.conf matched no file/);
  });

  test('errors in an included file name that file; a failing resolver is an error value', () => {
    const include = resolver({ 'bad.conf': 'a {\n\n' });
    const e = err('x 1\ninclude bad.conf\n', include);
    assert.deepEqual([e.file, e.line], ['bad.conf', 1]);
    const e2 = err('x 1\ninclude y\n', () => {
      throw new Error('permission denied');
    });
    assert.deepEqual([e2.file, e2.line], ['test.conf', 2]);
    assert.match(e2.message, /permission denied/);
  });

  test('an included file must balance its own braces', () => {
    const include = resolver({ 'open.conf': 'vrrp_instance X {\n' });
    const e = err('include open.conf\n}\n', include);
    assert.deepEqual([e.file, e.line], ['open.conf', 1]);
  });
});

describe('parameters, conditional lines and sequences', () => {
  test('$NAME=value is substituted later, in $NAME and ${NAME} forms, and reported', () => {
    const { statements, notices } = ok(
      '$PRIO=200\n$IF= eth0\npriority $PRIO\ninterface ${IF}.10 $IF\nnotify "/x.sh ${PRIO}" $UNDEFINED ${NOPE}\n',
    );
    assert.deepEqual(shape(statements), [
      ['priority', ['200']],
      ['interface', ['eth0.10', 'eth0']],
      ['notify', ['/x.sh 200', '$UNDEFINED', '${NOPE}']],
    ]);
    assert.deepEqual(
      notices.map((n) => [n.pos.line, n.message]),
      [
        [1, '$PRIO parameter definition: its uses below are substituted'],
        [2, '$IF parameter definition: its uses below are substituted'],
        [5, '$UNDEFINED is not a defined parameter: kept as written'],
        [5, '${NOPE} is not a defined parameter: kept as written'],
      ],
    );
  });

  test('$NAME must end at a blank, "," or ")": $PRIOx is not a use', () => {
    const { statements } = ok('$P=1\na $Px $P,$P)\n');
    assert.deepEqual(shape(statements), [['a', ['$Px', '1,1)']]]);
  });

  test('substitution happens at use time and recursively (the man page example)', () => {
    const { statements } = ok(
      '$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n',
    );
    assert.deepEqual(shape(statements), [
      ['10.2.0.100/32', []],
      ['10.2.10.100/32', []],
    ]);
  });

  test('a value can hold braces and comments are stripped first', () => {
    const { statements } = ok(
      '$VIPS=virtual_ipaddress { 192.0.2.1 }  # the VIP\nvrrp_instance A {\n  $VIPS\n}\n',
    );
    assert.deepEqual(shape(statements), [
      ['vrrp_instance', ['A'], [['virtual_ipaddress', [], [['192.0.2.1', []]]]]],
    ]);
  });

  test('a multiline definition expands where used, at the line of the use', () => {
    const text = [
      '$INSTANCE= \\',
      'vrrp_instance VI_${NUM} { \\',
      '    interface eth0.${NUM} \\',
      '    virtual_ipaddress { \\',
      '        10.0.${NUM}.254/24 \\',
      '    } \\',
      '}',
      '',
      '$NUM=0',
      '$INSTANCE',
      '$NUM=1',
      '$INSTANCE',
    ].join('\n');
    const { statements, notices } = ok(text);
    assert.deepEqual(shape(statements), [
      [
        'vrrp_instance',
        ['VI_0'],
        [
          ['interface', ['eth0.0']],
          ['virtual_ipaddress', [], [['10.0.0.254/24', []]]],
        ],
      ],
      [
        'vrrp_instance',
        ['VI_1'],
        [
          ['interface', ['eth0.1']],
          ['virtual_ipaddress', [], [['10.0.1.254/24', []]]],
        ],
      ],
    ]);
    assert.deepEqual(
      statements.map((s) => s.pos.line),
      [10, 12],
    );
    assert.equal(statements[1]?.block?.[0]?.pos.line, 12);
    assert.match(notices[0]?.message ?? '', /^\$INSTANCE multiline parameter definition/);
  });

  test('a parameter defined in terms of itself is an error, not a hang', () => {
    assert.match(err('$X=$X\na $X\n').message, /does not end/);
    assert.match(err('$X=${X}${X}\na $X\n').message, /does not end|longer than 64 KiB/);
    assert.match(err('$X= \\\n  a \\\n  $X\n\n$X\n').message, /does not end/);
  });

  test('${_HASH} and ${_BANG} are literal; daemon parameters stay with a notice', () => {
    const { statements, notices } = ok('a x${_HASH}y "${_BANG}" ${_PWD}/s.sh\n');
    assert.deepEqual(shape(statements), [['a', ['x#y', '!', '${_PWD}/s.sh']]]);
    assert.deepEqual(
      notices.map((n) => n.message),
      ['${_PWD} depends on the running keepalived: left as written'],
    );
  });

  test('@host and @^host lines are dropped with a notice when the config id is unknown', () => {
    const { statements, notices } = ok(
      'global_defs {\n  @main router_id main_router\n  @^backup x 1\n  y 2\n}\n',
    );
    assert.deepEqual(shape(statements), [['global_defs', [], [['y', ['2']]]]]);
    assert.deepEqual(
      notices.map((n) => [n.pos.line, n.message]),
      [
        [
          2,
          '@main conditional line dropped: it applies only on config id main; import with --config-id ID (keepalived -i) to resolve it',
        ],
        [
          3,
          '@^backup conditional line dropped: it applies everywhere except config id backup; import with --config-id ID (keepalived -i) to resolve it',
        ],
      ],
    );
  });

  test('a flood of notices is cut short with a count', () => {
    const { notices } = ok('@h x 1\n'.repeat(1500));
    assert.equal(notices.length, 1001);
    assert.deepEqual(notices[1000], {
      pos: { file: 'test.conf', line: 1001 },
      message: '500 more notices like the ones above are not listed',
    });
  });

  test('with a config id, @id lines apply as in keepalived', () => {
    const text =
      '@main router_id main_router\n@backup router_id backup_router\n@^main peer 1.2.3.4\n@^backup peer 1.2.3.5\n@main $P=240\n@backup $P=200\npriority $P\n$IF_MAIN=@main\n$IF_MAIN weight 1\n';
    const main = ok(text, undefined, { configId: 'main' });
    assert.deepEqual(shape(main.statements), [
      ['router_id', ['main_router']],
      ['peer', ['1.2.3.5']],
      ['priority', ['240']],
      ['weight', ['1']],
    ]);
    assert.equal(main.notices.filter((n) => n.message.includes('conditional')).length, 0);
    const backup = ok(text, undefined, { configId: 'backup' });
    assert.deepEqual(shape(backup.statements), [
      ['router_id', ['backup_router']],
      ['peer', ['1.2.3.4']],
      ['priority', ['200']],
    ]);
  });

  test('a dropped conditional line with a brace is named in the brace error', () => {
    const e = err('@lb1 vrrp_instance A {\n@lb2 vrrp_instance B {\n  state MASTER\n}\n');
    assert.equal(e.line, 4);
    assert.match(e.message, /conditional line 2 .* --config-id ID/);
  });

  test('~SEQ lines are reported and dropped', () => {
    const { statements, notices } = ok('virtual_ipaddress {\n  ~SEQ(SUBNET, 0, 3) 10.0.${SUBNET}.1\n}\n');
    assert.deepEqual(shape(statements), [['virtual_ipaddress', [], []]]);
    assert.equal(notices.length, 1);
    assert.deepEqual(notices[0]?.pos, { file: 'test.conf', line: 2 });
    assert.match(notices[0]?.message ?? '', /^~SEQ line not expanded/);
  });
});

describe('errors are values with a position', () => {
  test('an unclosed block names the line where it opened', () => {
    const e = err('global_defs {\n}\nvrrp_instance VI_1 {\n  authentication {\n    auth_type PASS\n  }\n');
    assert.equal(e.file, 'test.conf');
    assert.equal(e.line, 3);
    assert.match(e.message, /"vrrp_instance" opened here is never closed/);
  });

  test('an unclosed inner block names the inner line', () => {
    const e = err('a {\n  b {\n    c {\n    }\n');
    assert.equal(e.line, 2);
    assert.match(e.message, /"b" .*2 blocks are open/);
  });

  test('a brace on its own line names that line', () => {
    assert.equal(err('vrrp_instance X\n\n{\n').line, 3);
  });

  test('a stray closing brace names its line', () => {
    const e = err('a {\n}\n\n}\nb\n');
    assert.equal(e.line, 4);
    assert.match(e.message, /unexpected '}'/);
    assert.equal(err('a { } }\n').line, 1);
  });

  test('an opening brace with no keyword', () => {
    for (const [text, line] of [
      ['{\n}\n', 1],
      ['a {\n}\n{\n}\n', 3],
      ['a { {\n} }\n', 1],
      ['a\n}\n', 2],
    ] as const) {
      const e = err(text);
      assert.equal(e.line, line, text);
    }
    assert.match(err('\n  {\n').message, /'\{' with no keyword before it/);
  });

  test('an empty file, or one with only comments and blanks, has no statements', () => {
    for (const text of ['', '\n', '   \n\t\n', '! only a comment\n# and another\r\n']) {
      assert.deepEqual(parseKeepalivedConf(text, 'e.conf'), { ok: true, statements: [], notices: [] });
    }
  });

  test('binary garbage is not a text file', () => {
    const png = new Uint8Array([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52,
    ]);
    const bytes = new Uint8Array(4096);
    let seed = 7;
    for (let i = 0; i < bytes.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      bytes[i] = (seed >> 16) & 0xff;
    }
    const decode = (b: Uint8Array): string => new TextDecoder('utf-8').decode(b);
    const noNul = bytes.map((b) => (b === 0 ? 1 : b));
    const highOnly = bytes.map((b) => b | 0x80);
    for (const text of [decode(png), decode(bytes), decode(noNul), decode(highOnly), 'a 1\nb\u00002\n']) {
      const e = err(text);
      assert.match(e.message, /^not a text file/);
      assert.ok(e.line >= 1);
    }
    assert.equal(err('a 1\nb 2\u0000\n').line, 2);
  });

  test('input over 16 MiB is refused, counted in UTF-8 bytes', () => {
    assert.match(err('a'.repeat(16 * 1024 * 1024 + 1)).message, /larger than 16 MiB/);
    assert.match(err('가'.repeat(6 * 1024 * 1024)).message, /larger than 16 MiB/);
  });
});

describe('size and depth', () => {
  test('a 10 MB file parses', () => {
    const block = `virtual_server 10.0.0.1 80 {\n    delay_loop 6  # check\n    lb_algo rr\n    real_server 10.0.1.1 80 {\n        weight 1\n        TCP_CHECK { connect_timeout 3 }\n    }\n}\n`;
    const text = block.repeat(Math.ceil((10 * 1000 * 1000) / block.length));
    const { statements } = ok(text);
    assert.equal(statements.length, Math.ceil((10 * 1000 * 1000) / block.length));
    const last = statements[statements.length - 1] as KaStatement;
    assert.equal(last.pos.line, text.split('\n').length - 8);
  });

  test('100000 nested blocks do not blow the stack', () => {
    const depth = 100_000;
    const text = `${'a {\n'.repeat(depth)}${'}\n'.repeat(depth)}`;
    const { statements } = ok(text);
    let level = 0;
    let cur: KaStatement | undefined = statements[0];
    while (cur) {
      level++;
      cur = cur.block?.[0];
    }
    assert.equal(level, depth);
    const unclosed = err('a {\n'.repeat(depth));
    assert.equal(unclosed.line, depth);
    assert.equal(err('{'.repeat(depth)).line, 1);
    assert.equal(err(`x ${'{'.repeat(depth)}`).line, 1);
    assert.equal(err(`${'a {'.repeat(depth)}\n${'}'.repeat(depth + 1)}`).line, 2);
  });
});

describe('properties', () => {
  function assertWellFormed(r: KaParseResult): void {
    if (r.ok) {
      const todo = [...r.statements];
      while (todo.length > 0) {
        const s = todo.pop() as KaStatement;
        assert.equal(typeof s.keyword, 'string');
        assert.ok(Number.isInteger(s.pos.line) && s.pos.line >= 1);
        if (s.block) todo.push(...s.block);
      }
      for (const n of r.notices) assert.ok(Number.isInteger(n.pos.line) && n.pos.line >= 1);
    } else {
      assert.equal(typeof r.error.pos.file, 'string');
      assert.ok(Number.isInteger(r.error.pos.line) && r.error.pos.line >= 1, JSON.stringify(r.error));
      assert.ok(r.error.message.length > 0);
      assert.doesNotMatch(r.error.message, /^internal/);
    }
  }

  const tokens = [
    '{',
    '}',
    '!',
    '#',
    '"',
    '\\',
    '\n',
    '\r\n',
    ' ',
    '\t',
    'include ',
    'include x.conf',
    'include y*',
    '$A=1',
    '$B= \\',
    '$A',
    '${A}',
    '$B',
    '@h ',
    '@^h ',
    '~SEQ(A,1,2) ',
    'vrrp_instance',
    'priority',
    '200',
    '가',
    '\u0000',
  ];
  const files: Record<string, string> = {
    'x.conf': 'a { b 1 }\n',
    'y1.conf': 'include y2.conf\n',
    'y2.conf': '$A=2\nc $A\n',
    'y3.conf': 'include x.conf\ninclude y3.conf\n',
  };
  const include = resolver(files);

  test('arbitrary strings never throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' })),
        (text) => {
          assertWellFormed(parseKeepalivedConf(text, 'p.conf', include));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('strings of keepalived tokens never throw', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...tokens), { maxLength: 60 }).map((a) => a.join('')),
        fc.option(fc.constantFrom('h', 'g'), { nil: undefined }),
        (text, configId) => {
          assertWellFormed(parseKeepalivedConf(text, 'p.conf', include, { configId }));
        },
      ),
      { numRuns: 1000 },
    );
  });

  // A tree printed with random layout (inline blocks, brace on the next line, comments,
  // quotes) must read back as the same tree.
  test('printed trees read back', () => {
    const word = fc
      .stringMatching(/^[a-z0-9_./:@-]{1,8}$/)
      .filter((w) => !w.startsWith('include') && w[0] !== '@');
    const tree = fc.letrec<{ node: Shape; nodes: Shape[] }>((tie) => ({
      node: fc
        .tuple(
          word,
          fc.array(fc.oneof(word, fc.constant('a b'), fc.constant('x#y')), { maxLength: 3 }),
          fc.option(tie('nodes'), { nil: undefined, depthSize: 'small' }),
        )
        .map(([k, a, b]): Shape => (b === undefined ? [k, a] : [k, a, b])),
      nodes: fc.array(tie('node'), { maxLength: 4, depthIdentifier: 'tree' }),
    }));
    fc.assert(
      fc.property(tree.nodes, fc.array(fc.nat(5), { minLength: 1, maxLength: 50 }), (nodes, choices) => {
        let c = 0;
        const quote = (w: string): string => (/[ #]/.test(w) ? `"${w}"` : w);
        const pick = (): number => choices[c++ % choices.length] as number;
        const print = (ns: Shape[], indent: string): string =>
          ns
            .map(([k, a, b]) => {
              const args = a.map(quote).join(' ');
              const head = `${indent}${k}${args ? ` ${args}` : ''}`;
              if (!b) return `${head}${pick() === 0 ? '  # note' : ''}\n`;
              const how = pick();
              const only = b[0];
              // keepalived reads one statement per line or brace-delimited segment, so an
              // inline block holds at most one statement.
              if (how === 0 && b.length <= 1 && !only?.[2]) {
                return `${head} {${only ? ` ${only[0]} ${only[1].map(quote).join(' ')}` : ''} }\n`;
              }
              const open = how === 1 ? `\n${indent}{` : how === 2 ? ' {\t! x' : ' {';
              return `${head}${open}\n${print(b, `${indent}\t`)}${indent}}\n`;
            })
            .join('');
        const text = print(nodes, '');
        const r = parseKeepalivedConf(text, 'p.conf');
        assert.ok(r.ok, text);
        assert.deepEqual(shape(r.statements), nodes, text);
      }),
      { numRuns: 200 },
    );
  });
});
