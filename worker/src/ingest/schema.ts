/**
 * The zod schema of the wire protocol. Names, shapes and limits come from the SDK's protocol
 * module, and the schema is typed against its `WireEvent`, so a change on one side that the other
 * does not follow fails the typecheck.
 */
import { isPropertyKey, LIMITS, type PropValue, type WireEvent } from '@tally/sdk/protocol';
import { z } from '@hono/zod-openapi';
import { UUID_PATTERN } from '../shared/ids.ts';

/**
 * Text from the open internet, made safe to store: lone surrogates become U+FFFD and control
 * characters (NUL included) are removed, so no row ever holds text that breaks a reader.
 */
export function cleanText(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
  return value.toWellFormed().replace(/[\u0000-\u001f\u007f]/g, '');
}

const text = (max: number) => z.string().max(max, `at most ${max} characters`).transform(cleanText);

const httpUrl = z
  .string()
  .max(LIMITS.urlChars, `at most ${LIMITS.urlChars} characters`)
  .transform(cleanText)
  .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'an absolute http(s) URL');

const propKey = z
  .string()
  .min(1, 'property keys must not be empty')
  .max(LIMITS.propKeyChars, `at most ${LIMITS.propKeyChars} characters`)
  .transform(cleanText)
  .refine(isPropertyKey, 'property keys must hold more than control characters');

/**
 * Flat properties. Checked entry by entry rather than with `z.record`, which silently skips a
 * `__proto__` key: here every key is validated and stored as the plain key it is.
 */
const props = z
  .custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    'an object of properties',
  )
  .transform((value, ctx) => {
    const entries = Object.entries(value);
    if (entries.length > LIMITS.props) {
      ctx.addIssue({ code: 'custom', message: `at most ${LIMITS.props} properties` });
      return z.NEVER;
    }
    const clean: [string, PropValue][] = [];
    for (const [key, raw] of entries) {
      const checkedKey = propKey.safeParse(key);
      const problem = checkedKey.success ? propValueProblem(raw) : checkedKey.error.issues[0]?.message;
      if (problem || !checkedKey.success) {
        ctx.addIssue({ code: 'custom', path: [key], message: problem ?? 'invalid property' });
        continue;
      }
      clean.push([checkedKey.data, typeof raw === 'string' ? cleanText(raw) : (raw as PropValue)]);
    }
    // Object.fromEntries defines own properties: a `__proto__` key stays data, never a prototype.
    return Object.fromEntries(clean);
  })
  .openapi({
    type: 'object',
    description: `Flat properties: at most ${LIMITS.props}, keys up to ${LIMITS.propKeyChars} characters, string values up to ${LIMITS.propValueChars}`,
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
  });

function propValueProblem(value: unknown): string | null {
  if (typeof value === 'string') {
    return value.length > LIMITS.propValueChars ? `at most ${LIMITS.propValueChars} characters` : null;
  }
  if (typeof value === 'number') return Number.isFinite(value) ? null : 'a finite number';
  if (typeof value === 'boolean') return null;
  return 'a string, number or boolean (properties are flat)';
}

const revenue = z.strictObject({
  a: z.number().refine((value) => Number.isFinite(value) && Math.abs(value) <= LIMITS.revenueAmount, 'a finite amount'),
  c: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'an ISO 4217 currency code')
    .transform((value) => value.toUpperCase()),
});

/** One event on the wire. Unknown fields are refused, so a typo is a 400 rather than lost data. */
export const wireEventSchema = z.strictObject({
  s: z
    .string()
    .min(1)
    .max(LIMITS.siteKeyChars, `at most ${LIMITS.siteKeyChars} characters`)
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _')
    .optional(),
  n: z
    .string()
    .max(LIMITS.nameChars, `at most ${LIMITS.nameChars} characters`)
    .transform(cleanText)
    .transform((value) => value.trim())
    .refine((value) => value.length > 0, 'an event name'),
  u: httpUrl,
  r: text(LIMITS.urlChars).optional(),
  w: z.number().int().min(0).max(LIMITS.screenWidth).optional(),
  h: z.boolean().optional(),
  p: props.optional(),
  $: revenue.optional(),
  t: z.number().refine(Number.isFinite, 'a finite number').optional(),
  i: z.string().regex(UUID_PATTERN, 'a UUID').toLowerCase().optional(),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  ua: text(LIMITS.userAgentChars).optional(),
}) satisfies z.ZodType<WireEvent, unknown>;

const batchOf = <T extends z.ZodType>(event: T) =>
  z
    .array(event)
    .min(1, 'at least one event')
    .max(LIMITS.batchEvents, `at most ${LIMITS.batchEvents} events per request`);

/** A batch: 1 to `LIMITS.batchEvents` events (what the OpenAPI document describes). */
export const wireBatchSchema = batchOf(wireEventSchema);

/**
 * The shape of a batch without its events: the count is checked for the whole request, each
 * event on its own with `wireEventSchema`, so that one poison event does not sink the others.
 */
export const batchEnvelopeSchema = batchOf(z.unknown());

/** A validated event. */
export type ValidEvent = z.output<typeof wireEventSchema>;
