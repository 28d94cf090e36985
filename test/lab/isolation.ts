import { chmod, chown, cp, mkdir, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { LAB_USERS } from './users.js';
import { run } from './run.js';

/**
 * Optional per-host filesystems (LabOptions.isolated): inside an sshd's mount namespace, /home, /root and /tmp
 * are bind mounts of DIR/hosts/<name>/fs/{home,root,tmp}, so lab-1 and lab-2 no longer share files, tmux
 * servers (/tmp/tmux-UID) or push destinations. DIR itself stays reachable at the same path.
 */

async function idOf(user: string): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('getent', ['passwd', user]);
  const fields = stdout.trim().split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if ((await stat(path)).isDirectory()) {
    for (const name of await readdir(path)) await chownTree(join(path, name), uid, gid);
  }
}

async function makeHome(home: string, owner: { uid: number; gid: number }, mode: number): Promise<void> {
  await mkdir(home, { recursive: true });
  await cp('/etc/skel', home, { recursive: true });
  await chownTree(home, owner.uid, owner.gid);
  await chmod(home, mode);
}

export interface IsolatedFs {
  home: string;
  root: string;
  tmp: string;
  /** Where DIR reappears inside the private /tmp (only when DIR is under /tmp). */
  labDirMountPoint?: string;
}

export async function prepareIsolatedFs(labDir: string, hostDir: string): Promise<IsolatedFs> {
  const fsDir = join(hostDir, 'fs');
  const layout: IsolatedFs = { home: join(fsDir, 'home'), root: join(fsDir, 'root'), tmp: join(fsDir, 'tmp') };
  await mkdir(layout.home, { recursive: true, mode: 0o755 });
  await mkdir(layout.tmp, { recursive: true });
  await chmod(layout.tmp, 0o1777);
  await makeHome(layout.root, { uid: 0, gid: 0 }, 0o700);
  await Promise.all(
    LAB_USERS.map(async (user) => makeHome(join(layout.home, user.name), await idOf(user.name), 0o755)),
  );
  const insideTmp = relative('/tmp', labDir);
  if (insideTmp && !insideTmp.startsWith('..') && !isAbsolute(insideTmp)) {
    layout.labDirMountPoint = join(layout.tmp, insideTmp);
    await mkdir(layout.labDirMountPoint, { recursive: true, mode: 0o755 });
  }
  return layout;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Shell commands (run inside the new mount namespace, before sshd) that mount the private filesystems. */
export function isolationMountCommands(labDir: string, layout: IsolatedFs): string[] {
  return [
    `mount --bind ${q(layout.home)} /home`,
    `mount --bind ${q(layout.root)} /root`,
    ...(layout.labDirMountPoint ? [`mount --bind ${q(labDir)} ${q(layout.labDirMountPoint)}`] : []),
    `mount --rbind ${q(layout.tmp)} /tmp`,
  ];
}
