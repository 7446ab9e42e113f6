/**
 * The settings page in a real browser (worker + `vite dev`), as the demo user on the demo project:
 * the general form saves and survives a reload; a second account is added as a viewer (and sees
 * the read-only page), made an admin and removed (and then sees nothing); a two-step funnel shows
 * its steps on the dashboard; a password-protected share link asks for its password, opens
 * read-only, and stops opening once revoked; the public live counter turned on shows a count in
 * `/live.js` on a site's page (its behaviour is live.test.ts's); a rotated API key's new secret
 * is shown once and the old one stops answering /api/v1/query; and the danger zone resets the
 * data (the dashboard is empty) and deletes the project (gone from the list).
 *
 * The tests share one project and run in order: later ones count on the visit made earlier.
 */
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDashboard, startDashboard } from './dashboard-server.ts';
import { type FixtureServer, startFixtureServer } from './fixture-server.ts';
import { CHROME_UA, DEMO, eventually, freePort, launchBrowser, type RunningWorker, startWorker } from './harness.ts';

const STEP_TIMEOUT = 120_000;

let worker: RunningWorker;
let dashboard: RunningDashboard;
let site: FixtureServer;
let browser: Browser;
let owner: BrowserContext;
let page: Page;

/** A second account, made through the API: members are added by the email of an existing account. */
const colleague = { email: `colleague-${Date.now()}@example.com`, password: 'a long colleague password' };

const settingsUrl = (anchor: string) => `${dashboard.url}/projects/${DEMO.projectId}/settings#${anchor}`;
const dashboardUrl = () => `${dashboard.url}/projects/${DEMO.projectId}`;
const metric = (view: Page, name: string) => view.locator(`[data-testid="metric-${name}"]`);
const panel = (view: Page, title: string) =>
  view.locator('section.panel', { has: view.getByRole('heading', { name: title }) });

/** Sign in through the sign-in page and wait for the projects list. */
async function signIn(view: Page, email: string, password: string): Promise<void> {
  await view.goto(`${dashboard.url}/signin`);
  await view.getByLabel('Email').fill(email);
  await view.getByLabel('Password').fill(password);
  await view.getByRole('button', { name: 'Sign in' }).click();
  await view.waitForURL('**/projects');
}

/** Confirm a ConfirmDialog, typing the project id first when it asks for it. */
async function confirm(view: Page, title: string, action: string, typed?: string): Promise<void> {
  const dialog = view.getByRole('dialog', { name: title });
  if (typed !== undefined) await dialog.getByLabel(/^Type/).fill(typed);
  await dialog.getByRole('button', { name: action }).click();
  await dialog.waitFor({ state: 'hidden' });
}

/** POST /api/v1/query for the demo project's visitors with an API key; the status. */
async function queryWithKey(key: string): Promise<number> {
  const response = await fetch(`${worker.url}/api/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ project: DEMO.projectId, metrics: ['visitors'], date_range: 'all' }),
  });
  await response.body?.cancel();
  return response.status;
}

beforeAll(async () => {
  worker = await startWorker();
  dashboard = await startDashboard(worker.url, await freePort());
  site = await startFixtureServer(worker.url);
  browser = await launchBrowser();
  const signup = await fetch(`${worker.url}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: worker.url },
    body: JSON.stringify({ ...colleague, mode: 'token' }),
  });
  expect(signup.status).toBe(201);
  owner = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await owner.newPage();
  await signIn(page, DEMO.email, DEMO.password);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await site?.stop();
  await dashboard?.stop();
  await worker?.stop();
});

describe('project settings', () => {
  it(
    'saves name, hostnames, timezone and retention, and shows them after a reload',
    async () => {
      await page.goto(settingsUrl('general'));
      const general = page.locator('#general');
      await general.getByLabel('Name', { exact: true }).fill('Demo renamed');
      // The timezone picker searches as one types; Enter takes the first match.
      await general.getByLabel('Timezone').fill('Berlin');
      await general.getByRole('option', { name: /Europe\/Berlin/ }).waitFor();
      await general.getByLabel('Timezone').press('Enter');
      await general.getByLabel(/^Keep raw events for/).fill('90');
      await general.getByLabel('Add a hostname').fill('https://Shop.Example.com/path');
      await general.getByRole('button', { name: 'Add hostname' }).click();
      await general.getByRole('button', { name: 'Save changes' }).click();
      // Lowering retention (365 → 90 days) deletes raw events: the save asks first, naming how many days go.
      const dialog = page.getByRole('dialog', { name: 'Delete 275 days of raw events?' });
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain('for 90 instead of 365 days');
      await page.screenshot({
        path: fileURLToPath(new URL('./artifacts/retention-confirm-light.png', import.meta.url)),
      });
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect((await worker.d1(`SELECT retention_days AS d FROM projects WHERE id = '${DEMO.projectId}'`))[0]?.d).toBe(
        365,
      );
      await general.getByRole('button', { name: 'Save changes' }).click();
      await confirm(page, 'Delete 275 days of raw events?', 'Delete 275 days and save');
      await general.getByRole('status').filter({ hasText: 'Saved' }).waitFor();

      await page.reload();
      await general.getByLabel('Name', { exact: true }).waitFor();
      expect(await general.getByLabel('Name', { exact: true }).inputValue()).toBe('Demo renamed');
      expect(await general.getByLabel('Timezone').inputValue()).toBe('Europe/Berlin');
      expect(await general.getByLabel(/^Keep raw events for/).inputValue()).toBe('90');
      // The URL was cut down to its hostname, next to the seeded ones.
      expect(await general.locator('.hosts code').allTextContents()).toEqual(
        expect.arrayContaining([...DEMO.hostnames, 'shop.example.com']),
      );
      await page.getByRole('link', { name: '← Demo renamed dashboard' }).waitFor();
    },
    STEP_TIMEOUT,
  );

  it(
    'adds an account by email as a viewer, makes them an admin, and removes them',
    async () => {
      await page.goto(settingsUrl('members'));
      const members = page.locator('#members');
      await members.getByLabel('Email').fill(colleague.email);
      // The invite form's own Role (a label's name includes its select's option, hence the regex).
      await members.locator('form').getByLabel(/^Role/).selectOption('viewer');
      await members.getByRole('button', { name: 'Add member' }).click();
      const role = members.getByLabel(`Role of ${colleague.email}`);
      await role.waitFor();
      expect(await role.inputValue()).toBe('viewer');

      // The colleague, in their own browser, reads the project and cannot change it.
      const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const theirs = await other.newPage();
      await signIn(theirs, colleague.email, colleague.password);
      await theirs.goto(settingsUrl('general'));
      await theirs.getByText('Read-only: you are a viewer').waitFor();
      expect(await theirs.locator('#members').count()).toBe(0);
      expect(await theirs.locator('#general').getByRole('button', { name: 'Save changes' }).count()).toBe(0);

      await role.selectOption('admin');
      await page.reload();
      await expect.poll(() => role.inputValue(), { timeout: 15_000 }).toBe('admin');

      await members
        .getByRole('row', { name: new RegExp(colleague.email) })
        .getByRole('button', { name: 'Remove' })
        .click();
      await confirm(page, `Remove ${colleague.email}?`, 'Remove member');
      await role.waitFor({ state: 'detached' });

      // Removed: the project is no longer theirs to open.
      await theirs.reload();
      await theirs.getByText('No such project').waitFor();
      await other.close();
    },
    STEP_TIMEOUT,
  );

  it(
    'defines a two-step funnel that the dashboard shows step by step',
    async () => {
      // A visit that passes both steps: two pages of the site (both serve fixtures/basic.html).
      const visitor = await browser.newContext({ userAgent: CHROME_UA });
      const visitPage = await visitor.newPage();
      await visitPage.goto(`${site.url}/basic/pricing`);
      await visitPage.goto(`${site.url}/basic/signup`);
      await visitor.close();
      await eventually(async () => {
        const rows = await worker.d1(`SELECT count(*) AS n FROM events WHERE project_id = '${DEMO.projectId}'`);
        expect(rows[0]?.n).toBe(2);
      });

      await page.goto(settingsUrl('funnels'));
      const funnels = page.locator('#funnels');
      await funnels.getByLabel('Name', { exact: true }).fill('Pricing to signup');
      await funnels.getByRole('group', { name: 'Step 1' }).getByLabel(/^Path/).fill('/basic/pricing');
      await funnels.getByRole('group', { name: 'Step 2' }).getByLabel(/^Path/).fill('/basic/signup');
      await funnels.getByRole('button', { name: 'Add funnel' }).click();
      await funnels.getByText('Visit /basic/pricing → Visit /basic/signup').waitFor();

      await page.goto(dashboardUrl());
      const steps = panel(page, 'Funnels').locator('li.step');
      await expect.poll(() => steps.count(), { timeout: 30_000 }).toBe(2);
      expect(await steps.locator('.name').allTextContents()).toEqual([
        expect.stringMatching(/^1\.\s.*\/basic\/pricing$/),
        expect.stringMatching(/^2\.\s.*\/basic\/signup$/),
      ]);
      expect(await steps.locator('.line .num').allTextContents()).toEqual(['1', '1']);
    },
    STEP_TIMEOUT,
  );

  it(
    'opens a password-protected share link after its password, read-only, until it is revoked',
    async () => {
      await page.goto(settingsUrl('shares'));
      const shares = page.locator('#shares');
      await shares.getByLabel('Name', { exact: true }).fill('Investors');
      await shares.getByLabel(/^Password/).fill('open sesame, please');
      await shares.getByRole('button', { name: 'Create link' }).click();
      const link = shares.getByTestId('share-link');
      await link.waitFor();
      await shares.locator('li', { hasText: 'Investors' }).getByText('password', { exact: true }).waitFor();
      const href = new URL((await link.getAttribute('href')) ?? '', dashboard.url).href;

      const stranger = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const view = await stranger.newPage();
      await view.goto(href);
      await view.getByRole('heading', { name: 'This dashboard is password-protected' }).waitFor();
      await view.getByLabel('Password').fill('not the password');
      await view.getByRole('button', { name: 'Open dashboard' }).click();
      await view.getByRole('alert').waitFor();
      await view.getByLabel('Password').fill('open sesame, please');
      await view.getByRole('button', { name: 'Open dashboard' }).click();
      await view.getByText('A read-only dashboard shared with you.').waitFor();
      await view.getByRole('heading', { name: 'Demo renamed' }).waitFor();
      await expect.poll(() => metric(view, 'visitors').textContent(), { timeout: 30_000 }).toBe('1');
      expect(await view.getByRole('link', { name: 'Settings' }).count()).toBe(0);

      await shares.locator('li', { hasText: 'Investors' }).getByRole('button', { name: 'Revoke' }).click();
      await shares.getByText('No active share links.').waitFor();
      await shares.getByText('1 revoked link no longer open.').waitFor();
      // The token it holds for this tab opens nothing now.
      await view.reload();
      await view.getByText('This link does not open anything').waitFor();
      await stranger.close();
    },
    STEP_TIMEOUT,
  );

  it(
    'turns the public live counter on: /live.js on a site page shows a count',
    async () => {
      await page.goto(settingsUrl('live'));
      const live = page.locator('#live');
      const toggle = live.getByLabel('Enable the public live counter');
      expect(await toggle.isChecked()).toBe(false);
      await toggle.check();
      await live.locator('code', { hasText: '/live.js' }).waitFor();
      await page.reload();
      await expect.poll(() => toggle.isChecked(), { timeout: 15_000 }).toBe(true);

      const viewer = await browser.newContext({ userAgent: CHROME_UA });
      const counter = await viewer.newPage();
      await counter.goto(`${site.url}/live-counter.html`);
      const shown = await counter.waitForFunction(
        () => document.querySelector('#inline .tally-live')?.getAttribute('data-visitors'),
        undefined,
        { timeout: 15_000 },
      );
      expect(Number(await shown.jsonValue())).toBeGreaterThanOrEqual(0);
      await viewer.close();
    },
    STEP_TIMEOUT,
  );

  it(
    'rotates an API key: the new secret is shown once, and the old one stops answering the stats API',
    async () => {
      await page.goto(settingsUrl('keys'));
      const keys = page.locator('#keys');
      await keys.getByLabel('Name', { exact: true }).fill('reporting');
      await keys.getByRole('checkbox', { name: /^ingest/ }).uncheck();
      await keys.getByRole('checkbox', { name: /^read/ }).check();
      await keys.getByRole('button', { name: 'Create key' }).click();
      const secret = keys.getByTestId('api-key-secret');
      const first = (await secret.textContent()) ?? '';
      expect(await queryWithKey(first)).toBe(200);

      const row = keys.getByRole('row', { name: /reporting/ });
      await row.getByRole('button', { name: 'Rotate' }).click();
      await confirm(page, 'Rotate “reporting”?', 'Rotate key');
      await expect.poll(() => secret.textContent()).not.toBe(first);
      const second = (await secret.textContent()) ?? '';
      expect(second).toMatch(/^tly_/);
      expect(await queryWithKey(second)).toBe(200);
      expect(await queryWithKey(first)).toBe(401);

      // Once: after a reload only the active key's prefix is listed, never a secret.
      await page.reload();
      await keys
        .getByRole('row', { name: /reporting/ })
        .getByText('active')
        .waitFor();
      expect(await secret.count()).toBe(0);
    },
    STEP_TIMEOUT,
  );

  it(
    'resets the data after typing the project name (the dashboard is empty), then deletes the project',
    async () => {
      await page.goto(settingsUrl('danger'));
      const danger = page.locator('#danger');
      await danger.getByRole('button', { name: 'Reset data…' }).click();
      const resetDialog = page.getByRole('dialog', { name: 'Reset the data of Demo renamed?' });
      // The button wakes up only for the exact id.
      await resetDialog.getByLabel(/^Type/).fill('dem');
      expect(await resetDialog.getByRole('button', { name: 'Reset data' }).isDisabled()).toBe(true);
      await confirm(page, 'Reset the data of Demo renamed?', 'Reset data', 'Demo renamed');
      await danger.getByRole('status').filter({ hasText: 'The data is gone' }).waitFor();

      await page.goto(dashboardUrl());
      await page.getByText('No visits in this range yet.').waitFor({ timeout: 30_000 });
      expect(await metric(page, 'visitors').textContent()).toBe('0');
      expect(await metric(page, 'pageviews').textContent()).toBe('0');

      await page.goto(settingsUrl('danger'));
      await danger.getByRole('button', { name: 'Delete project…' }).click();
      await confirm(page, 'Delete Demo renamed?', 'Delete project', 'Demo renamed');
      await page.waitForURL('**/projects');
      await page.getByText('No projects yet').waitFor();
      await page.goto(dashboardUrl());
      await page.getByText('No such project').first().waitFor();
    },
    STEP_TIMEOUT,
  );
});
