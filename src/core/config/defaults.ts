// OpenSSH 9.2 (Debian 12) client defaults and the order in which `ssh -G` prints options
// (readconf.c dump_client_config). Captured from `ssh -G -F /dev/null x`; `null` = printed only when set.

/** [keyword as `ssh -G` prints it, default printed value or null]. */
export const SSH_G_ORDER: readonly (readonly [string, string | null])[] = [
  ['host', null],
  ['user', null],
  ['hostname', null],
  ['port', null],
  ['addressfamily', 'any'],
  ['batchmode', 'no'],
  ['canonicalizefallbacklocal', 'yes'],
  ['canonicalizehostname', 'false'],
  ['checkhostip', 'no'],
  ['compression', 'no'],
  ['controlmaster', 'false'],
  ['enablesshkeysign', 'no'],
  ['clearallforwardings', 'no'],
  ['exitonforwardfailure', 'no'],
  ['fingerprinthash', 'SHA256'],
  ['forwardx11', 'no'],
  ['forwardx11trusted', 'yes'],
  ['gatewayports', 'no'],
  ['gssapiauthentication', 'no'],
  ['gssapikeyexchange', 'no'],
  ['gssapidelegatecredentials', 'no'],
  ['gssapitrustdns', 'no'],
  ['gssapirenewalforcesrekey', 'no'],
  ['gssapikexalgorithms', 'gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-'],
  ['hashknownhosts', 'no'],
  ['hostbasedauthentication', 'no'],
  ['identitiesonly', 'no'],
  ['kbdinteractiveauthentication', 'yes'],
  ['nohostauthenticationforlocalhost', 'no'],
  ['passwordauthentication', 'yes'],
  ['permitlocalcommand', 'no'],
  ['proxyusefdpass', 'no'],
  ['pubkeyauthentication', 'true'],
  ['requesttty', 'auto'],
  ['sessiontype', 'default'],
  ['stdinnull', 'no'],
  ['forkafterauthentication', 'no'],
  ['streamlocalbindunlink', 'no'],
  ['stricthostkeychecking', 'ask'],
  ['tcpkeepalive', 'yes'],
  ['tunnel', 'false'],
  ['verifyhostkeydns', 'false'],
  ['visualhostkey', 'no'],
  ['updatehostkeys', 'true'],
  ['enableescapecommandline', 'no'],
  ['canonicalizemaxdots', '1'],
  ['connectionattempts', '1'],
  ['forwardx11timeout', '1200'],
  ['numberofpasswordprompts', '3'],
  ['serveralivecountmax', '3'],
  ['serveraliveinterval', '0'],
  ['requiredrsasize', '1024'],
  ['bindaddress', null],
  ['bindinterface', null],
  ['ciphers', 'chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com'],
  ['controlpath', null],
  ['hostkeyalgorithms', 'ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256'],
  ['hostkeyalias', null],
  ['hostbasedacceptedalgorithms', 'ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256'],
  ['identityagent', null],
  ['ignoreunknown', null],
  ['kbdinteractivedevices', null],
  ['kexalgorithms', 'sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256'],
  ['casignaturealgorithms', 'ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256'],
  ['localcommand', null],
  ['remotecommand', null],
  ['loglevel', 'INFO'],
  ['macs', 'umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1'],
  ['pkcs11provider', null],
  ['securitykeyprovider', 'internal'],
  ['preferredauthentications', null],
  ['pubkeyacceptedalgorithms', 'ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256'],
  ['revokedhostkeys', null],
  ['xauthlocation', '/usr/bin/xauth'],
  ['knownhostscommand', null],
  ['dynamicforward', null],
  ['localforward', null],
  ['remoteforward', null],
  ['identityfile', null],
  ['canonicaldomains', 'none'],
  ['certificatefile', null],
  ['globalknownhostsfile', '/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2'],
  ['userknownhostsfile', null],
  ['sendenv', null],
  ['setenv', null],
  ['logverbose', 'none'],
  ['permitremoteopen', 'any'],
  ['addkeystoagent', 'false'],
  ['forwardagent', 'no'],
  ['connecttimeout', 'none'],
  ['tunneldevice', 'any:any'],
  ['canonicalizePermittedcnames', 'none'],
  ['controlpersist', 'no'],
  ['escapechar', '~'],
  ['ipqos', 'lowdelay throughput'],
  ['rekeylimit', '0 0'],
  ['streamlocalbindmask', '0177'],
  ['syslogfacility', 'USER'],
  ['proxycommand', null],
  ['proxyjump', null],
];

export const DEFAULT_PORT = 22;

/** Added by fill_default_options only when no IdentityFile was configured. */
export const DEFAULT_IDENTITY_FILES: readonly string[] = [
  '~/.ssh/id_rsa',
  '~/.ssh/id_ecdsa',
  '~/.ssh/id_ecdsa_sk',
  '~/.ssh/id_ed25519',
  '~/.ssh/id_ed25519_sk',
  '~/.ssh/id_xmss',
  '~/.ssh/id_dsa',
];

export const DEFAULT_USER_KNOWN_HOSTS_FILES: readonly string[] = ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'];
export const DEFAULT_GLOBAL_KNOWN_HOSTS_FILES: readonly string[] = ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];

export const DEFAULT_USER_CONFIG = '~/.ssh/config';
export const DEFAULT_SYSTEM_CONFIG = '/etc/ssh/ssh_config';
/** Base of relative Include paths in the system config (SSHDIR). */
export const SYSTEM_CONFIG_DIR = '/etc/ssh';

/** readconf.c READCONF_MAX_DEPTH. */
export const MAX_INCLUDE_DEPTH = 16;
/** Flotilla's bound on one config file (OpenSSH has none; real configs are a few KiB). */
export const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;
/** SSH_MAX_IDENTITY_FILES. */
export const MAX_IDENTITY_FILES = 100;

/** Keys printed as one line with space-separated values (dump_cfg_strarray_oneline). */
export const ONE_LINE_ARRAY_KEYS: ReadonlySet<string> = new Set([
  'canonicaldomains',
  'globalknownhostsfile',
  'userknownhostsfile',
  'logverbose',
]);

const YES_NO = { yes: 'yes', no: 'no', true: 'yes', false: 'no' } as const;
const TRUE_FALSE = { yes: 'true', true: 'true', no: 'false', false: 'false' } as const;

/** Accepted spellings → printed value, for flag and multi-state keywords (readconf.c multistate_* tables). */
export const CHOICES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  batchmode: YES_NO,
  canonicalizefallbacklocal: YES_NO,
  checkhostip: YES_NO,
  compression: YES_NO,
  enablesshkeysign: YES_NO,
  clearallforwardings: YES_NO,
  exitonforwardfailure: YES_NO,
  forwardx11: YES_NO,
  forwardx11trusted: YES_NO,
  gatewayports: YES_NO,
  gssapiauthentication: YES_NO,
  gssapikeyexchange: YES_NO,
  gssapidelegatecredentials: YES_NO,
  gssapitrustdns: YES_NO,
  gssapirenewalforcesrekey: YES_NO,
  hashknownhosts: YES_NO,
  hostbasedauthentication: YES_NO,
  identitiesonly: YES_NO,
  kbdinteractiveauthentication: YES_NO,
  nohostauthenticationforlocalhost: YES_NO,
  passwordauthentication: YES_NO,
  permitlocalcommand: YES_NO,
  proxyusefdpass: YES_NO,
  stdinnull: YES_NO,
  forkafterauthentication: YES_NO,
  streamlocalbindunlink: YES_NO,
  tcpkeepalive: YES_NO,
  visualhostkey: YES_NO,
  enableescapecommandline: YES_NO,
  addressfamily: { any: 'any', inet: 'inet', inet6: 'inet6' },
  canonicalizehostname: { ...TRUE_FALSE, always: 'always' },
  controlmaster: { ...TRUE_FALSE, auto: 'auto', ask: 'ask', autoask: 'autoask' },
  fingerprinthash: { md5: 'MD5', sha1: 'SHA1', sha256: 'SHA256', sha384: 'SHA384', sha512: 'SHA512' },
  // log_level_name() prints the first name of a level: DEBUG1 is "DEBUG"; Debian's ssh calls QUIET "SILENT".
  loglevel: { silent: 'SILENT', quiet: 'SILENT', fatal: 'FATAL', error: 'ERROR', info: 'INFO', verbose: 'VERBOSE', debug: 'DEBUG', debug1: 'DEBUG', debug2: 'DEBUG2', debug3: 'DEBUG3' },
  syslogfacility: {
    daemon: 'DAEMON', user: 'USER', auth: 'AUTH', authpriv: 'AUTHPRIV',
    local0: 'LOCAL0', local1: 'LOCAL1', local2: 'LOCAL2', local3: 'LOCAL3', local4: 'LOCAL4', local5: 'LOCAL5', local6: 'LOCAL6', local7: 'LOCAL7',
  },
  pubkeyauthentication: { ...TRUE_FALSE, unbound: 'unbound', 'host-bound': 'host-bound' },
  // fmt_multistate_int prints the first name of the value's table entry: "true"/"false", not yes/no.
  requesttty: { no: 'false', yes: 'true', force: 'force', auto: 'auto', false: 'false', true: 'true' },
  sessiontype: { none: 'none', subsystem: 'subsystem', default: 'default' },
  stricthostkeychecking: { ...TRUE_FALSE, off: 'false', ask: 'ask', 'accept-new': 'accept-new' },
  tunnel: { ...TRUE_FALSE, ethernet: 'ethernet', 'point-to-point': 'point-to-point' },
  verifyhostkeydns: { ...TRUE_FALSE, ask: 'ask' },
  updatehostkeys: { ...TRUE_FALSE, ask: 'ask' },
  addkeystoagent: { ...TRUE_FALSE, ask: 'ask', confirm: 'confirm' },
};

export const INTEGER_KEYS: ReadonlySet<string> = new Set([
  'port',
  'canonicalizemaxdots',
  'connectionattempts',
  'numberofpasswordprompts',
  'serveralivecountmax',
  'requiredrsasize',
]);

/** Keywords taking a time interval (misc.c convtime), printed in seconds. */
export const TIME_KEYS: ReadonlySet<string> = new Set(['connecttimeout', 'serveraliveinterval', 'forwardx11timeout']);

/** Older spellings OpenSSH still accepts. */
export const KEYWORD_ALIASES: Readonly<Record<string, string>> = {
  pubkeyacceptedkeytypes: 'pubkeyacceptedalgorithms',
  hostbasedkeytypes: 'hostbasedacceptedalgorithms',
  identityfile2: 'identityfile',
  keepalive: 'tcpkeepalive',
  challengeresponseauthentication: 'kbdinteractiveauthentication',
  skeyauthentication: 'kbdinteractiveauthentication',
  tisauthentication: 'kbdinteractiveauthentication',
  dsaauthentication: 'pubkeyauthentication',
};

/** Keywords only Apple's OpenSSH knows (macOS `ssh` accepts them; elsewhere they are "Bad configuration option"). */
export const APPLE_ONLY_KEYWORDS: ReadonlySet<string> = new Set(['usekeychain']);

/** Keywords accepted by OpenSSH 9.2 that `ssh -G` does not print (or prints under another name). */
export const OTHER_KNOWN_KEYWORDS: ReadonlySet<string> = new Set([
  'include',
  'host',
  'match',
  'identityfile',
  'gssapiclientidentity',
  'gssapiserveridentity',
  'gssapikexalgorithms',
  'smartcarddevice',
  'protocol',
  'globalknownhostsfile2',
  'userknownhostsfile2',
  'rhostsauthentication',
  'cipher',
  'rhostsrsaauthentication',
  'rsaauthentication',
  'compressionlevel',
  'useprivilegedport',
  'usersh',
  'fallbacktorsh',
  'useroaming',
  'afstokenpassing',
  'kerberosauthentication',
  'kerberostgtpassing',
  'hostkeyalgorithms',
]);
