/** Shared by the goal and funnel tests: a team around a project, and calls to the goal and funnel routes. */
import { expect } from 'vitest';
import { addMember, api, createProjectAs, expectJson, signUp } from './accounts.ts';
import { expectError } from './helpers.ts';

/** A goal as the API answers it. */
export interface Goal {
  id: string;
  name: string;
  kind: 'pageview' | 'event';
  path?: string;
  eventName?: string;
  propertyKey?: string;
  propertyValue?: string;
  createdAt: number;
}

/** A funnel as the API answers it. */
export interface Funnel {
  id: string;
  name: string;
  steps: Record<string, string>[];
  createdAt: number;
}

/** A project with an owner, an admin, a viewer, and a signed-in stranger. */
export async function team() {
  const [owner, admin, viewer, stranger] = await Promise.all([signUp(), signUp(), signUp(), signUp()]);
  const { id: projectId } = await createProjectAs(owner.token, { name: 'Goal site' });
  await addMember(owner.token, projectId, admin.email, 'admin');
  await addMember(owner.token, projectId, viewer.email, 'viewer');
  return { projectId, owner, admin, viewer, stranger };
}

export const goalsPath = (projectId: string) => `/api/projects/${projectId}/goals`;
export const funnelsPath = (projectId: string) => `/api/projects/${projectId}/funnels`;

/** Create a goal through the API, expecting 201. */
export async function createGoal(token: string, projectId: string, body: Record<string, unknown>): Promise<Goal> {
  return expectJson<Goal>(await api(goalsPath(projectId), { method: 'POST', token, body }), 201);
}

/** Create a funnel through the API, expecting 201. */
export async function createFunnel(token: string, projectId: string, body: Record<string, unknown>): Promise<Funnel> {
  return expectJson<Funnel>(await api(funnelsPath(projectId), { method: 'POST', token, body }), 201);
}

/** The smallest funnel: a page view, then a custom event. */
export const twoSteps = [
  { kind: 'pageview', path: '/pricing' },
  { kind: 'event', eventName: 'signup' },
];

/** The failing field paths of a 400 response. */
export async function invalidFields(response: Response): Promise<unknown[]> {
  const error = await expectError(response, 400, 'invalid_input');
  return error.details?.map((issue) => issue.path) ?? [];
}

/** The conflicting field paths of a 409 response. */
export async function conflictFields(response: Response): Promise<unknown[]> {
  const error = await expectError(response, 409, 'conflict');
  expect(error.details).toBeDefined();
  return error.details?.map((issue) => issue.path) ?? [];
}
