import { run } from './run.js';

export interface LabUser {
  name: string;
  shell: string;
  /** false: no authorized key, logins fail (auth-fail alias). */
  authorized: boolean;
  /** A password this user logs in with (test data, also in lab.json). */
  password?: string;
}

export const LAB_PASSWORD_USER = 'flotilla-pw';
export const LAB_PASSWORD = 'flotilla-lab-password';

export const LAB_USERS: readonly LabUser[] = [
  { name: 'flotilla', shell: '/bin/bash', authorized: true },
  { name: 'flotilla-dash', shell: '/bin/dash', authorized: true },
  { name: 'flotilla-fish', shell: '/usr/bin/fish', authorized: true },
  { name: 'flotilla-tcsh', shell: '/usr/bin/tcsh', authorized: true },
  { name: 'flotilla-nokey', shell: '/bin/bash', authorized: false },
  { name: LAB_PASSWORD_USER, shell: '/bin/bash', authorized: false, password: LAB_PASSWORD },
];

async function userExists(name: string): Promise<boolean> {
  return (await run('getent', ['passwd', name])).code === 0;
}

/**
 * With `UsePAM no`, sshd refuses accounts whose shadow password starts with '!' ("account is locked"),
 * which is what `useradd` leaves. '*' means "no password login" without locking the account.
 */
async function unlockForKeyLogin(name: string): Promise<void> {
  const shadow = await run('getent', ['shadow', name]);
  const password = shadow.stdout.split(':')[1] ?? '';
  if (password.startsWith('!') || password === '') {
    const result = await run('usermod', ['-p', '*', name]);
    if (result.code !== 0) throw new Error(`usermod -p '*' ${name} failed: ${result.stderr.trim()}`);
  }
}

/**
 * Creates the lab users if missing (idempotent). Another lab starting at the same moment may hold the
 * passwd lock, so a failed useradd is retried as long as the user still does not exist.
 */
export async function ensureLabUsers(): Promise<void> {
  for (const user of LAB_USERS) {
    for (let attempt = 0; !(await userExists(user.name)); attempt++) {
      const result = await run('useradd', ['-m', '-p', '*', '-s', user.shell, user.name]);
      if (result.code === 0 || (await userExists(user.name))) break;
      if (attempt >= 20) throw new Error(`useradd ${user.name} failed: ${result.stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    }
    if (user.password) await setPassword(user.name, user.password);
    else await unlockForKeyLogin(user.name);
  }
}

async function setPassword(name: string, password: string): Promise<void> {
  const result = await run('chpasswd', [], { input: `${name}:${password}\n` });
  if (result.code !== 0) throw new Error(`chpasswd ${name} failed: ${result.stderr.trim()}`);
}
