/** Goal and funnel steps as the forms edit them, and how they read in lists. */
import type { GoalStep } from '$lib/api/types.ts';

/** A step being edited: every field present, the kind deciding which are sent. */
export interface StepDraft {
  kind: 'pageview' | 'event';
  path: string;
  eventName: string;
  propertyKey: string;
  propertyValue: string;
}

export function emptyStep(kind: StepDraft['kind'] = 'pageview'): StepDraft {
  return { kind, path: '', eventName: '', propertyKey: '', propertyValue: '' };
}

/** The API's shape of a draft: a kind's unused fields left out, a property only with both halves. */
export function stepOf(draft: StepDraft): GoalStep {
  if (draft.kind === 'pageview') return { kind: 'pageview', path: draft.path.trim() };
  const key = draft.propertyKey.trim();
  return {
    kind: 'event',
    eventName: draft.eventName.trim(),
    ...(key ? { propertyKey: key, propertyValue: draft.propertyValue } : {}),
  };
}

/** Whether a draft has what its kind needs. */
export function stepComplete(draft: StepDraft): boolean {
  return draft.kind === 'pageview' ? draft.path.trim().startsWith('/') : draft.eventName.trim().length > 0;
}

/** "Visit /pricing", "signup (plan: pro)". */
export function describeStep(step: GoalStep): string {
  if (step.kind === 'pageview') return `Visit ${step.path}`;
  return step.propertyKey ? `${step.eventName} (${step.propertyKey}: ${step.propertyValue ?? ''})` : step.eventName;
}
