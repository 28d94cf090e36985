import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatSshG,
  listHostAliases,
  resolveHost,
  SshConfigError,
  validateHostToken,
  type ResolveOptions,
} from '../../src/core/config/sshConfig.js';
import { argvSplit } from '../../src/core/config/lexer.js';
import { matchPattern, matchPatternList } from '../../src/core/config/patterns.js';

let home = '';

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'flotilla-sshconfig-'));
  mkdirSync(join(home, '.ssh'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

/** Writes files relative to the temp home. */
function write(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const path = join(home, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}

function opts(extra: ResolveOptions = {}): ResolveOptions {
  return {
    homeDir: home,
    localUser: 'me',
    localHostname: 'laptop.example.org',
    localUid: 1234,
    env: { HOME: home, TEAM: 'blue' },
    systemConfigFile: null,
    ...extra,
  };
}

async function resolveWith(config: string, alias = 'web', extra: ResolveOptions = {}) {
  write({ '.ssh/config': config });
  return resolveHost(alias, opts(extra));
}

describe('keywords and first-obtained value', () => {
  it('matches keywords case-insensitively and keeps the first value', async () => {
    const h = await resolveWith('host web\n  hostname first.example\n  USER Bob\nHost *\n  HostName second.example\n  User alice\n  Port 2200\n');
    expect(h.hostname).toBe('first.example');
    expect(h.user).toBe('Bob');
    expect(h.port).toBe(2200);
  });

  it('applies OpenSSH defaults when nothing is configured', async () => {
    const h = await resolveWith('');
    expect(h.port).toBe(22);
    expect(h.user).toBe('me');
    expect(h.hostname).toBe('web');
    expect(h.identityFiles).toEqual(
      ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((f) => join(home, '.ssh', f)),
    );
    expect(h.userKnownHostsFiles).toEqual([join(home, '.ssh/known_hosts'), join(home, '.ssh/known_hosts2')]);
    expect(h.globalKnownHostsFiles).toEqual(['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
    expect(h.strictHostKeyChecking).toBe('ask');
    expect(h.connectTimeout).toBeUndefined();
    expect(h.serverAliveInterval).toBe(0);
    expect(h.serverAliveCountMax).toBe(3);
    expect(h.hashKnownHosts).toBe(false);
    expect(h.forwardAgent).toBe(false);
    expect(h.identitiesOnly).toBe(false);
    expect(h.proxyJump).toBeUndefined();
    expect(h.proxyCommand).toBeUndefined();
  });

  it('keeps "#" inside a token and strips trailing comments, "=" syntax and quotes', async () => {
    const h = await resolveWith('Host web\n  User a#b\n  HostName = web.example # comment\n  IdentityFile "~/.ssh/my key"\r\n  Port=2201\n');
    expect(h.user).toBe('a#b');
    expect(h.hostname).toBe('web.example');
    expect(h.identityFiles).toEqual([join(home, '.ssh/my key')]);
    expect(h.port).toBe(2201);
  });

  it('splits arguments like OpenSSH argv_split', () => {
    expect(argvSplit(`a "b c" 'd e' f\\ g # rest`)).toEqual(['a', 'b c', 'd e', 'f g']);
    expect(argvSplit('x"y z"w')).toEqual(['xy zw']);
    expect(argvSplit('"open')).toBeUndefined();
  });

  it('remembers file:line for every value, including values from Includes', async () => {
    write({ '.ssh/inc.conf': '\n# comment\nHost web\n  Port 2300\n' });
    const h = await resolveWith('# top\n\nHost web\n  User deploy\n  Include inc.conf\n');
    expect(h.options.get('user')?.source).toEqual({ file: join(home, '.ssh/config'), line: 4 });
    expect(h.options.get('port')?.source).toEqual({ file: join(home, '.ssh/inc.conf'), line: 4 });
    expect(h.options.get('stricthostkeychecking')?.source).toBeUndefined();
  });

  it('reports a bad value with its file and line', async () => {
    const error = await resolveWith('Host web\n\n  Port nope\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SshConfigError);
    expect((error as SshConfigError).line).toBe(3);
    expect((error as SshConfigError).file).toBe(join(home, '.ssh/config'));
  });
});

describe('resolving many aliases against one file', () => {
  it('a block passed over for other aliases still applies to its own; its bad lines warn every time, an edit is read', async () => {
    const config = 'Host db\n  User dbadmin\n  Port 2201\nHost web\n  User deploy\n  UseKeychain yes\nHost *\n  Port 2299\n';
    write({ '.ssh/config': config });
    for (let round = 0; round < 3; round++) {
      const web = await resolveHost('web', opts());
      const db = await resolveHost('db', opts());
      expect([web.user, web.port, db.user, db.port]).toEqual(['deploy', 2299, 'dbadmin', 2201]);
      expect(db.warnings).toEqual([expect.stringMatching(/:6: Bad configuration option: usekeychain/)]);
    }
    write({ '.ssh/config': config.replace('Port 2201', 'Port 2202 ') });
    expect((await resolveHost('db', opts())).port).toBe(2202);
  });
});

describe('Host patterns', () => {
  it('"?" matches exactly one character, "*" any run', () => {
    expect(matchPattern('web1', 'web?')).toBe(true);
    expect(matchPattern('web', 'web?')).toBe(false);
    expect(matchPattern('a.b.example', '*.example')).toBe(true);
    expect(matchPattern('Web', 'web')).toBe(false);
  });

  it('Match pattern lists: commas separate, "!" vetoes, host matching ignores case', () => {
    expect(matchPatternList('MyServer', 'other,MYSERVER', true)).toBe(true);
    expect(matchPatternList('web', 'w*,!web', true)).toBe(false);
    expect(matchPatternList('Alice', 'alice', false)).toBe(false);
  });

  it('treats commas literally, negation vetoes, matching is case-sensitive on the typed alias', async () => {
    expect((await resolveWith('Host alpha,beta\n  User comma\n', 'alpha')).user).toBe('me');
    expect((await resolveWith('Host * !bastion\n  ProxyJump bastion\n', 'bastion')).proxyJump).toBeUndefined();
    expect((await resolveWith('Host !db\n  User neg\n', 'web')).user).toBe('me');
    const upper = await resolveWith('Host MyServer\n  Port 1234\nHost myserver\n  Port 5678\n', 'MYSERVER');
    expect(upper.port).toBe(22);
    expect(upper.hostname).toBe('myserver');
    expect((await resolveWith('Host foo web bar\n  User multi\n')).user).toBe('multi');
  });
});

describe('Include', () => {
  it('expands relative globs under ~/.ssh in lexical order; missing globs are ignored', async () => {
    write({
      '.ssh/conf.d/b.conf': 'Host web\n  User from-b\n',
      '.ssh/conf.d/a.conf': 'Host web\n  Port 2401\n  User from-a\n',
      '.ssh/conf.d/.hidden.conf': 'Host web\n  HostName hidden\n',
    });
    const h = await resolveWith('Include conf.d/*.conf nothing/*.conf missing.conf\nHost *\n  User fallback\n');
    expect(h.user).toBe('from-a');
    expect(h.port).toBe(2401);
    expect(h.hostname).toBe('web');
  });

  it('is conditional inside Host/Match and restores the block state afterwards', async () => {
    write({ '.ssh/inc.conf': 'Host *\n  Port 1111\n', '.ssh/inc2.conf': 'Host nomatch\n  Port 2222\n' });
    const h = await resolveWith('Host other\n  Include inc.conf\nHost web\n  Include inc2.conf\n  User after-include\n');
    expect(h.port).toBe(22);
    expect(h.user).toBe('after-include');
  });

  it('reports an Include cycle naming the chain', async () => {
    write({ '.ssh/a.conf': 'Include b.conf\n', '.ssh/b.conf': 'Include a.conf\n' });
    const error = await resolveWith('Include a.conf\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SshConfigError);
    expect(String((error as Error).message)).toMatch(/Include cycle: .*config -> .*a\.conf -> .*b\.conf -> .*a\.conf/);
  });

  it('allows 16 nested levels and refuses the 17th', async () => {
    const chain = (levels: number): Record<string, string> => {
      const files: Record<string, string> = {};
      for (let i = 1; i <= levels; i++) files[`.ssh/n${levels}/d${i}.conf`] = i < levels ? `Include n${levels}/d${i + 1}.conf\n` : 'Port 1616\n';
      return files;
    };
    write(chain(16));
    expect((await resolveWith('Include n16/d1.conf\n')).port).toBe(1616);
    write(chain(17));
    await expect(resolveWith('Include n17/d1.conf\n')).rejects.toThrow(/too many nested Includes \(more than 16 levels\)/);
  });

  it('reads the system config after the user config, unless a config file is given explicitly', async () => {
    write({ 'system.conf': 'Host *\n  Port 2020\n  User sys\n', '.ssh/config': 'Host web\n  User mine\n', 'explicit.conf': 'Host web\n  User explicit\n' });
    const both = await resolveHost('web', opts({ systemConfigFile: join(home, 'system.conf') }));
    expect([both.user, both.port]).toEqual(['mine', 2020]);
    const explicit = await resolveHost('web', opts({ configFile: join(home, 'explicit.conf'), systemConfigFile: join(home, 'system.conf') }));
    expect([explicit.user, explicit.port]).toEqual(['explicit', 22]);
  });

  it('refuses "~" Includes in the system config and a missing explicit config file', async () => {
    write({ 'system.conf': 'Include ~/x.conf\n' });
    await expect(resolveHost('web', opts({ systemConfigFile: join(home, 'system.conf') }))).rejects.toThrow(/bad include path/);
    await expect(resolveHost('web', opts({ configFile: join(home, 'nope.conf') }))).rejects.toThrow(/cannot open config file/);
  });
});

describe('Match', () => {
  it('host is case-insensitive and sees HostName; originalhost sees the alias', async () => {
    expect((await resolveWith('Match host MyServer\n  Port 1111\n', 'myserver')).port).toBe(1111);
    const h = await resolveWith('Host alias\n  hostname real.example.com\nMatch host *.example.com\n  User matched\nMatch originalhost ALIAS\n  Port 9\n', 'alias');
    expect([h.user, h.port]).toEqual(['matched', 9]);
  });

  it('supports negation, comma lists, all, user (ssh -l) and localuser', async () => {
    expect((await resolveWith('Match !host trusted\n  User notrusted\n')).user).toBe('notrusted');
    expect((await resolveWith('Match host a,w*,!web\n  User x\n')).user).toBe('me');
    expect((await resolveWith('Match all\n  Port 3\n')).port).toBe(3);
    const cli = await resolveWith('Host web\n  User fromconfig\nMatch user cli\n  Port 2223\n', 'web', { user: 'cli' });
    expect([cli.user, cli.port]).toEqual(['cli', 2223]);
    expect((await resolveWith('Match localuser m?\n  Port 4\n')).port).toBe(4);
  });

  it('final: a second pass with the lower-cased HostName; canonical is true only then', async () => {
    const h = await resolveWith('Host alias\n  HostName Real\nHost real\n  User second-pass\nMatch final host real\n  Port 2022\nMatch canonical\n  IdentitiesOnly yes\n', 'alias');
    expect([h.hostname, h.port, h.user, h.identitiesOnly]).toEqual(['real', 2022, 'second-pass', true]);
    expect((await resolveWith('Match canonical\n  Port 5\n')).port).toBe(22);
  });

  it('rejects unknown Match attributes', async () => {
    await expect(resolveWith('Match tagged x\n  Port 5\n')).rejects.toThrow(/unsupported Match attribute/);
  });
});

describe('Match exec', () => {
  it('is off by default: evaluates false, runs nothing, records a warning', async () => {
    const marker = join(home, 'ran');
    const h = await resolveWith(`Match exec "touch ${marker}"\n  User viaexec\n`);
    expect(h.user).toBe('me');
    expect(existsSync(marker)).toBe(false);
    expect(h.warnings?.join('\n')).toMatch(/Match exec.*not evaluated/);
  });

  it('runs asynchronously with tokens expanded when enabled', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    try {
      const h = await resolveWith('Host web\n  Port 2200\nMatch exec "sleep 0.3; test %h:%p:%r:%n:%u:%d = web:2200:me:web:me:' + home + '"\n  User viaexec\n', 'web', {
        matchExec: { enabled: true },
      });
      expect(h.user).toBe('viaexec');
    } finally {
      clearInterval(timer);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(ticks).toBeGreaterThan(5); // the event loop kept running while the command slept
  });

  it('times out as "no match" with a warning', async () => {
    const started = Date.now();
    const h = await resolveWith('Match exec "sleep 5"\n  User slow\n', 'web', { matchExec: { enabled: true, timeoutMs: 200 } });
    expect(h.user).toBe('me');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(h.warnings?.join('\n')).toMatch(/timed out/);
  });

  it('is skipped when an earlier criterion already failed', async () => {
    const marker = join(home, 'ran');
    await resolveWith(`Match host nomatch exec "touch ${marker}"\n  User x\n`, 'web', { matchExec: { enabled: true } });
    expect(existsSync(marker)).toBe(false);
  });
});

describe('ProxyJump / ProxyCommand', () => {
  it('whichever comes first wins; none unsets', async () => {
    const cmd = await resolveWith('Host web\n  ProxyCommand nc %h %p\nHost *\n  ProxyJump jumper\n');
    expect([cmd.proxyCommand, cmd.proxyJump]).toEqual(['nc web 22', undefined]);
    const jump = await resolveWith('Host web\n  ProxyJump a@j1:2222,j2\nHost *\n  ProxyCommand nc %h %p\n');
    expect([jump.proxyCommand, jump.proxyJump]).toEqual([undefined, 'a@j1:2222,j2']);
    const none = await resolveWith('Host web\n  ProxyJump none\nHost *\n  ProxyJump jumper\n');
    expect([none.proxyCommand, none.proxyJump]).toEqual([undefined, undefined]);
  });

  it('expands ProxyCommand tokens for use but keeps ssh -G form in options', async () => {
    const h = await resolveWith('Host web\n  User deploy\n  HostName %h.example.com\n  ProxyCommand ssh -W %h:%p jump-%n-%r\n');
    expect(h.proxyCommand).toBe('ssh -W web.example.com:22 jump-web-deploy');
    expect(formatSshG(h, ['proxycommand'])).toBe('proxycommand ssh -W %h:%p jump-%n-%r\n');
  });
});

describe('accumulating keywords', () => {
  it('IdentityFile and CertificateFile accumulate in order without duplicates', async () => {
    const h = await resolveWith('Host web\n  IdentityFile ~/.ssh/a\n  IdentityFile ~/.ssh/b\n  CertificateFile ~/.ssh/a-cert.pub\nHost *\n  IdentityFile ~/.ssh/c\n  IdentityFile ~/.ssh/a\n');
    expect(h.identityFiles).toEqual(['a', 'b', 'c'].map((f) => join(home, '.ssh', f)));
    expect(h.certificateFiles).toEqual([join(home, '.ssh/a-cert.pub')]);
  });

  it('SendEnv accumulates (with -PATTERN removal); SetEnv keeps the first line', async () => {
    const h = await resolveWith('Host web\n  SendEnv LANG LC_*\n  SetEnv A=1 "B=two words"\nHost *\n  SendEnv -LC_*\n  SendEnv XX\n  SetEnv C=3\n');
    expect(h.options.get('sendenv')?.values).toEqual(['LANG', 'XX']);
    expect(h.options.get('setenv')?.values).toEqual(['A=1', 'B=two words']);
    expect(formatSshG(h, ['sendenv', 'setenv'])).toBe('sendenv LANG\nsendenv XX\nsetenv A=1\nsetenv B=two words\n');
  });

  it('forwards accumulate', async () => {
    const h = await resolveWith('Host web\n  LocalForward 8080 localhost:80\nHost *\n  LocalForward 9090 db:5432\n  DynamicForward 1080\n');
    expect(formatSshG(h, ['localforward', 'dynamicforward'])).toBe('dynamicforward 1080\nlocalforward 8080 [localhost]:80\nlocalforward 9090 [db]:5432\n');
  });
});

describe('tokens', () => {
  it('expands %h in HostName and lower-cases the result', async () => {
    expect((await resolveWith('Host web\n  HostName %h.EXAMPLE.com\n')).hostname).toBe('web.example.com');
  });

  it('expands path tokens, ${ENV} and ~ in IdentityFile, IdentityAgent and UserKnownHostsFile', async () => {
    const h = await resolveWith(
      'Host web\n  User deploy\n  Port 2222\n  IdentityFile ~/.ssh/id_%r_%u_%n_%p_%i_%L\n  IdentityAgent ${HOME}/agent-%l.sock\n  UserKnownHostsFile ~/.ssh/kh_%h_${TEAM} %d/kh2\n',
    );
    expect(h.identityFiles).toEqual([join(home, '.ssh/id_deploy_me_web_2222_1234_laptop')]);
    expect(h.identityAgent).toBe(`${home}/agent-laptop.example.org.sock`);
    expect(h.userKnownHostsFiles).toEqual([join(home, '.ssh/kh_web_blue'), `${home}/kh2`]);
    expect(formatSshG(h, ['identityfile'])).toBe('identityfile ~/.ssh/id_%r_%u_%n_%p_%i_%L\n');
  });

  it('refuses unknown tokens and unset variables', async () => {
    await expect(resolveWith('Host web\n  IdentityFile ~/.ssh/%z\n')).rejects.toThrow(/unknown token "%z"/);
    await expect(resolveWith('Host web\n  IdentityAgent ${NOPE}/s\n')).rejects.toThrow(/NOPE.*not set/);
  });
});

describe('validateHostToken', () => {
  it.each(['-oProxyCommand=touch /tmp/x', 'a b', 'a\nb', '', 'tab\there'])('rejects %j', (value) => {
    expect(() => validateHostToken(value, 'alias')).toThrow(SshConfigError);
  });

  it('names the value JSON-escaped and says what to do', () => {
    expect(() => validateHostToken('a\nb', 'alias')).toThrow(/"a\\nb".*Remove/);
    expect(() => validateHostToken('-x', 'hostname')).toThrow(/"-x".*starts with "-"/);
  });

  it('accepts ordinary names and is applied by resolveHost', async () => {
    expect(() => validateHostToken('web-1.example', 'alias')).not.toThrow();
    expect(() => validateHostToken('deploy', 'user')).not.toThrow();
    await expect(resolveWith('', '-oProxyCommand=touch /tmp/x')).rejects.toThrow(SshConfigError);
  });
});

describe('listHostAliases', () => {
  it('lists concrete aliases across all Includes, de-duplicated, first source kept', async () => {
    write({ '.ssh/conf.d/x.conf': 'Host db web\n  Port 1\n', '.ssh/cold.conf': 'Host cold\n' });
    write({ '.ssh/config': 'Host web *.example !bad w?b\n  User u\nHost nomatch\n  Include cold.conf\nInclude conf.d/*.conf\n' });
    const { hosts, warnings } = await listHostAliases(opts());
    expect(hosts.map((h) => h.alias)).toEqual(['web', 'nomatch', 'cold', 'db']);
    expect(hosts[0]!.source).toEqual({ file: join(home, '.ssh/config'), line: 1 });
    expect(warnings).toEqual([]);
  });

  it('turns Include cycles into warnings', async () => {
    write({ '.ssh/config': 'Include config\nHost a\n' });
    const { hosts, warnings } = await listHostAliases(opts());
    expect(hosts.map((h) => h.alias)).toEqual(['a']);
    expect(warnings.join('\n')).toMatch(/Include cycle/);
  });
});

describe('formatSshG', () => {
  it('prints lowercase key/value lines in ssh -G order', async () => {
    const h = await resolveWith('Host web\n  StrictHostKeyChecking yes\n  ConnectTimeout 1m\n  ForwardAgent true\n');
    expect(formatSshG(h, ['connecttimeout', 'port', 'stricthostkeychecking', 'forwardagent', 'user', 'hostname'])).toBe(
      'user me\nhostname web\nport 22\nstricthostkeychecking true\nforwardagent yes\nconnecttimeout 60\n',
    );
    expect(h.strictHostKeyChecking).toBe('yes');
    expect(h.connectTimeout).toBe(60);
  });

  it('matches the key list of ssh -G -F /dev/null', async () => {
    const h = await resolveHost('x', opts({ configFile: 'none' }));
    const keys = formatSshG(h).split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
    expect(keys.slice(0, 4)).toEqual(['host', 'user', 'hostname', 'port']);
    expect(keys).toContain('canonicalizePermittedcnames');
    expect(keys.filter((k) => k === 'identityfile')).toHaveLength(7);
  });
});

describe('module boundaries', () => {
  it('src/core/config never imports vscode', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = join(__dirname, '../../src/core/config');
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), 'utf8')).not.toMatch(/from ['"]vscode['"]/);
  });
});
