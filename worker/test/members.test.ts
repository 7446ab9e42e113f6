/**
 * Project members through the real Worker: who may list, invite, change and remove (the role
 * matrix), what admins may not do to owners, that a project always keeps an owner, leaving, and a
 * model of the rules that random sequences of operations are checked against.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { addMember, api, type CreatedProject, createProjectAs, expectJson, signUp, type TestUser } from './accounts.ts';
import { expectError } from './helpers.ts';

type Role = 'owner' | 'admin' | 'viewer';
interface Member {
  userId: string;
  email: string;
  name: string | null;
  role: Role;
  createdAt: number;
}

let owner: TestUser;
let admin: TestUser;
let viewer: TestUser;
/** A second viewer: the one the matrix's writes act on. */
let target: TestUser;
let stranger: TestUser;
/** Signed up, member of nothing until a test invites them. */
let invitee: TestUser;

beforeAll(async () => {
  [owner, admin, viewer, target, stranger, invitee] = await Promise.all([
    signUp(undefined, 'Owner'),
    signUp(),
    signUp(),
    signUp(),
    signUp(),
    signUp(),
  ]);
});

/** A fresh project: owner, admin, viewer, and target (a viewer); stranger and invitee are not in it. */
async function team(): Promise<CreatedProject> {
  const project = await createProjectAs(owner.token);
  await addMember(owner.token, project.id, admin.email, 'admin');
  await addMember(owner.token, project.id, viewer.email, 'viewer');
  await addMember(owner.token, project.id, target.email, 'viewer');
  return project;
}

const membersPath = (projectId: string, userId?: string) =>
  `/api/projects/${projectId}/members${userId === undefined ? '' : `/${userId}`}`;

/** Each member's role, as `asker` (the owner unless given) lists them. */
async function roles(projectId: string, asker: TestUser = owner): Promise<Record<string, Role>> {
  const { members } = await expectJson<{ members: Member[] }>(
    await api(membersPath(projectId), { token: asker.token }),
    200,
  );
  return Object.fromEntries(members.map((member) => [member.userId, member.role]));
}

describe('the role matrix', () => {
  type Actor = 'owner' | 'admin' | 'viewer' | 'stranger' | 'nobody';
  const routes: {
    name: string;
    request: (projectId: string) => { path: string; method: string; body?: unknown };
    allowed: number;
  }[] = [
    { name: 'list', request: (id) => ({ path: membersPath(id), method: 'GET' }), allowed: 200 },
    {
      name: 'invite',
      request: (id) => ({ path: membersPath(id), method: 'POST', body: { email: invitee.email, role: 'viewer' } }),
      allowed: 201,
    },
    {
      name: 'change role',
      request: (id) => ({ path: membersPath(id, target.userId), method: 'PATCH', body: { role: 'admin' } }),
      allowed: 200,
    },
    { name: 'remove', request: (id) => ({ path: membersPath(id, target.userId), method: 'DELETE' }), allowed: 204 },
  ];
  const actors: { actor: Actor; status: (allowed: number) => number; code?: string }[] = [
    { actor: 'owner', status: (allowed) => allowed },
    { actor: 'admin', status: (allowed) => allowed },
    { actor: 'viewer', status: () => 403, code: 'forbidden' },
    { actor: 'stranger', status: () => 404, code: 'not_found' },
    { actor: 'nobody', status: () => 401, code: 'unauthorized' },
  ];
  const tokenOf = (actor: Actor) =>
    ({ owner: owner.token, admin: admin.token, viewer: viewer.token, stranger: stranger.token, nobody: undefined })[
      actor
    ];
  const cases = routes.flatMap((route) => actors.map((actor) => ({ ...actor, route })));

  it.each(cases)('$route.name by $actor', async ({ route, actor, status, code }) => {
    const project = await team();
    const { path, method, body } = route.request(project.id);
    const token = tokenOf(actor);
    const res = await api(path, { method, ...(token ? { token } : {}), ...(body ? { body } : {}) });
    if (code) await expectError(res, status(route.allowed), code);
    else expect(res.status, await res.clone().text()).toBe(route.allowed);
  });

  it('answers 404 for a project that does not exist, whoever asks', async () => {
    for (const user of [owner, stranger]) {
      await expectError(await api(membersPath('no-such-project'), { token: user.token }), 404, 'not_found');
    }
  });
});

describe('listing', () => {
  it('shows every member with email, name, role and join time, oldest first', async () => {
    const project = await team();
    const { members } = await expectJson<{ members: Member[] }>(
      await api(membersPath(project.id), { token: admin.token }),
      200,
    );
    expect(members.map((member) => [member.userId, member.role])).toEqual([
      [owner.userId, 'owner'],
      [admin.userId, 'admin'],
      [viewer.userId, 'viewer'],
      [target.userId, 'viewer'],
    ]);
    expect(members[0]).toEqual({
      userId: owner.userId,
      email: owner.email,
      name: 'Owner',
      role: 'owner',
      createdAt: expect.any(Number),
    });
  });
});

describe('inviting', () => {
  it('adds an existing user by email, who then sees the project', async () => {
    const project = await team();
    const res = await api(membersPath(project.id), {
      method: 'POST',
      token: admin.token,
      // Emails are matched as normalised: case and surrounding spaces do not matter.
      body: { email: `  ${invitee.email.toUpperCase()} `, role: 'admin' },
    });
    expect(await expectJson(res, 201)).toEqual({
      userId: invitee.userId,
      email: invitee.email,
      name: null,
      role: 'admin',
      createdAt: expect.any(Number),
    });
    const mine = await expectJson<{ projects: { id: string; role: Role }[] }>(
      await api('/api/projects', { token: invitee.token }),
      200,
    );
    expect(mine.projects).toContainEqual(expect.objectContaining({ id: project.id, role: 'admin' }));
  });

  it('answers 404 with a clear message for an email no account has', async () => {
    const project = await team();
    const res = await api(membersPath(project.id), {
      method: 'POST',
      token: owner.token,
      body: { email: 'nobody-here@example.com', role: 'viewer' },
    });
    const error = await expectError(res, 404, 'not_found');
    expect(error.message).toMatch(/no account has this email/i);
    expect(error.details).toEqual([{ path: ['email'], message: expect.any(String) }]);
  });

  it('answers 409 for someone who is already a member, and leaves their role alone', async () => {
    const project = await team();
    const res = await api(membersPath(project.id), {
      method: 'POST',
      token: owner.token,
      body: { email: viewer.email, role: 'admin' },
    });
    await expectError(res, 409, 'conflict');
    expect((await roles(project.id))[viewer.userId]).toBe('viewer');
  });

  it('refuses bad input with the failing field', async () => {
    const project = await team();
    for (const [body, field] of [
      [{ email: invitee.email, role: 'superuser' }, 'role'],
      [{ email: 'not an email', role: 'viewer' }, 'email'],
      [{ role: 'viewer' }, 'email'],
    ] as const) {
      const res = await api(membersPath(project.id), { method: 'POST', token: owner.token, body });
      const error = await expectError(res, 400, 'invalid_input');
      expect(error.details?.map((issue) => issue.path)).toContainEqual([field]);
    }
  });

  it('lets only owners make owners', async () => {
    const project = await team();
    const body = { email: invitee.email, role: 'owner' };
    await expectError(
      await api(membersPath(project.id), { method: 'POST', token: admin.token, body }),
      403,
      'forbidden',
    );
    await expectJson(await api(membersPath(project.id), { method: 'POST', token: owner.token, body }), 201);
    expect((await roles(project.id))[invitee.userId]).toBe('owner');
  });
});

describe('admins and owners', () => {
  it('an admin can neither change, make nor remove an owner', async () => {
    const project = await team();
    const asAdmin = (method: string, userId: string, body?: unknown) =>
      api(membersPath(project.id, userId), { method, token: admin.token, ...(body ? { body } : {}) });
    await expectError(await asAdmin('PATCH', owner.userId, { role: 'viewer' }), 403, 'forbidden');
    await expectError(await asAdmin('PATCH', viewer.userId, { role: 'owner' }), 403, 'forbidden');
    await expectError(await asAdmin('PATCH', admin.userId, { role: 'owner' }), 403, 'forbidden');
    await expectError(await asAdmin('DELETE', owner.userId), 403, 'forbidden');
    expect(await roles(project.id)).toEqual({
      [owner.userId]: 'owner',
      [admin.userId]: 'admin',
      [viewer.userId]: 'viewer',
      [target.userId]: 'viewer',
    });
  });

  it('an admin manages other admins and viewers', async () => {
    const project = await team();
    await addMember(owner.token, project.id, invitee.email, 'admin');
    const asAdmin = (method: string, userId: string, body?: unknown) =>
      api(membersPath(project.id, userId), { method, token: admin.token, ...(body ? { body } : {}) });
    expect((await expectJson<Member>(await asAdmin('PATCH', invitee.userId, { role: 'viewer' }), 200)).role).toBe(
      'viewer',
    );
    expect((await expectJson<Member>(await asAdmin('PATCH', viewer.userId, { role: 'admin' }), 200)).role).toBe(
      'admin',
    );
    expect((await asAdmin('DELETE', invitee.userId)).status).toBe(204);
    expect(Object.keys(await roles(project.id))).not.toContain(invitee.userId);
  });

  it('an owner can hand over ownership and step down', async () => {
    const project = await team();
    const asOwner = (userId: string, role: Role) =>
      api(membersPath(project.id, userId), { method: 'PATCH', token: owner.token, body: { role } });
    await expectJson(await asOwner(admin.userId, 'owner'), 200);
    await expectJson(await asOwner(owner.userId, 'viewer'), 200);
    expect(await roles(project.id, admin)).toMatchObject({ [owner.userId]: 'viewer', [admin.userId]: 'owner' });
    // Now a viewer, the former owner manages nothing.
    await expectError(await asOwner(viewer.userId, 'admin'), 403, 'forbidden');
  });

  it('answers 404 for a user who is not a member', async () => {
    const project = await team();
    for (const userId of [stranger.userId, 'no-such-user']) {
      const path = membersPath(project.id, userId);
      await expectError(
        await api(path, { method: 'PATCH', token: owner.token, body: { role: 'admin' } }),
        404,
        'not_found',
      );
      await expectError(await api(path, { method: 'DELETE', token: owner.token }), 404, 'not_found');
    }
  });

  it('changing a role to the one held already changes nothing', async () => {
    const project = await team();
    const res = await api(membersPath(project.id, viewer.userId), {
      method: 'PATCH',
      token: admin.token,
      body: { role: 'viewer' },
    });
    expect((await expectJson<Member>(res, 200)).role).toBe('viewer');
  });
});

describe('the last owner', () => {
  it('can neither be demoted nor leave, until another owner exists', async () => {
    const project = await team();
    const self = membersPath(project.id, owner.userId);
    const demote = () => api(self, { method: 'PATCH', token: owner.token, body: { role: 'admin' } });
    await expectError(await demote(), 409, 'conflict');
    await expectError(await api(self, { method: 'DELETE', token: owner.token }), 409, 'conflict');

    await expectJson(
      await api(membersPath(project.id, admin.userId), {
        method: 'PATCH',
        token: owner.token,
        body: { role: 'owner' },
      }),
      200,
    );
    // Two owners: one may remove the other, and the one left is the last again.
    expect((await api(membersPath(project.id, admin.userId), { method: 'DELETE', token: owner.token })).status).toBe(
      204,
    );
    await expectError(await demote(), 409, 'conflict');
    expect(Object.values(await roles(project.id)).filter((role) => role === 'owner')).toHaveLength(1);
  });
});

describe('leaving', () => {
  it.each(['viewer', 'admin'] as const)('a %s may leave, and then no longer sees the project', async (role) => {
    const project = await team();
    const user = role === 'viewer' ? viewer : admin;
    expect((await api(membersPath(project.id, user.userId), { method: 'DELETE', token: user.token })).status).toBe(204);
    await expectError(await api(`/api/projects/${project.id}`, { token: user.token }), 404, 'not_found');
    expect(Object.keys(await roles(project.id))).not.toContain(user.userId);
  });

  it('someone who is not a member cannot "leave" (404)', async () => {
    const project = await team();
    await expectError(
      await api(membersPath(project.id, stranger.userId), { method: 'DELETE', token: stranger.token }),
      404,
      'not_found',
    );
  });
});

describe('API keys on member routes', () => {
  it('an admin key manages members like an admin; a read key cannot; another project’s key sees nothing', async () => {
    const project = await team();
    const other = await createProjectAs(owner.token);
    const key = async (projectId: string, scopes: string[]) =>
      (
        await expectJson<{ key: string }>(
          await api(`/api/projects/${projectId}/keys`, {
            method: 'POST',
            token: owner.token,
            body: { name: 'k', scopes },
          }),
          201,
        )
      ).key;
    const adminKey = await key(project.id, ['admin']);
    const readKey = await key(project.id, ['read']);
    const otherKey = await key(other.id, ['admin']);

    await expectJson(await api(membersPath(project.id), { token: adminKey }), 200);
    await expectJson(
      await api(membersPath(project.id), {
        method: 'POST',
        token: adminKey,
        body: { email: invitee.email, role: 'viewer' },
      }),
      201,
    );
    await expectError(
      await api(membersPath(project.id, invitee.userId), { method: 'PATCH', token: adminKey, body: { role: 'owner' } }),
      403,
      'forbidden',
    );
    await expectError(
      await api(membersPath(project.id, owner.userId), { method: 'DELETE', token: adminKey }),
      403,
      'forbidden',
    );
    await expectError(await api(membersPath(project.id), { token: readKey }), 403, 'forbidden');
    await expectError(await api(membersPath(project.id), { token: otherKey }), 404, 'not_found');
  });
});

describe('random sequences of member operations', () => {
  type Op =
    | { kind: 'invite'; actor: number; target: number; role: Role }
    | { kind: 'change'; actor: number; target: number; role: Role }
    | { kind: 'remove'; actor: number; target: number };
  const RANK: Record<Role, number> = { viewer: 0, admin: 1, owner: 2 };

  /** The rules, written out plainly: the status each operation must get from this membership. */
  function expectedStatus(model: Map<number, Role>, op: Op): number {
    const actor = model.get(op.actor);
    const target = model.get(op.target);
    const owners = [...model.values()].filter((role) => role === 'owner').length;
    const self = op.kind === 'remove' && op.actor === op.target;
    if (!actor) return 404;
    if (!self && RANK[actor] < RANK.admin) return 403;
    if (op.kind === 'invite') {
      if (op.role === 'owner' && actor !== 'owner') return 403;
      return target ? 409 : 201;
    }
    if (!target) return 404;
    const touchesOwner = target === 'owner' || (op.kind === 'change' && op.role === 'owner');
    if (!self && actor !== 'owner' && touchesOwner) return 403;
    if (op.kind === 'change' && op.role === target) return 200;
    if (target === 'owner' && owners === 1) return 409;
    return op.kind === 'change' ? 200 : 204;
  }

  function request(users: TestUser[], projectId: string, op: Op) {
    const actor = users[op.actor] as TestUser;
    const target = users[op.target] as TestUser;
    if (op.kind === 'invite') {
      return api(membersPath(projectId), {
        method: 'POST',
        token: actor.token,
        body: { email: target.email, role: op.role },
      });
    }
    if (op.kind === 'change') {
      return api(membersPath(projectId, target.userId), {
        method: 'PATCH',
        token: actor.token,
        body: { role: op.role },
      });
    }
    return api(membersPath(projectId, target.userId), { method: 'DELETE', token: actor.token });
  }

  it('answer as the rules say and never leave a project without an owner', async () => {
    const users = () => [owner, admin, viewer, target];
    const person = fc.integer({ min: 0, max: 3 });
    const role = fc.constantFrom<Role>('owner', 'admin', 'viewer');
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('invite' as const), actor: person, target: person, role }),
      fc.record({ kind: fc.constant('change' as const), actor: person, target: person, role }),
      fc.record({ kind: fc.constant('remove' as const), actor: person, target: person }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        const everyone = users();
        const project = await createProjectAs(owner.token);
        const model = new Map<number, Role>([[0, 'owner']]);
        for (const step of ops) {
          const want = expectedStatus(model, step);
          const res = await request(everyone, project.id, step);
          expect(res.status, `${JSON.stringify(step)}: ${await res.text()}`).toBe(want);
          if (want === 201 && step.kind === 'invite') model.set(step.target, step.role);
          if (want === 200 && step.kind === 'change') model.set(step.target, step.role);
          if (want === 204) model.delete(step.target);
        }
        const owners = [...model.entries()].filter(([, r]) => r === 'owner');
        expect(owners.length).toBeGreaterThan(0);
        const [ownerIndex] = owners[0] as [number, Role];
        const { members } = await expectJson<{ members: Member[] }>(
          await api(membersPath(project.id), { token: (everyone[ownerIndex] as TestUser).token }),
          200,
        );
        const actual = Object.fromEntries(members.map((m) => [m.userId, m.role]));
        const expected = Object.fromEntries(
          [...model.entries()].map(([index, r]) => [(everyone[index] as TestUser).userId, r]),
        );
        expect(actual).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });
});
