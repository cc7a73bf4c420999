import type { GovernorReport } from '../governor/report.js';
import { NONE } from '../governor/budget.js';

const amount = (unit: 'tokens' | 'usd', value: number) => (unit === 'tokens' ? `${Math.round(value).toLocaleString('en-US')} tokens` : `$${value.toFixed(2)}`);

/** The governor's rows under `status`: the autopilot's value, ceiling and last change; the budget's spending and pause. */
export function governorRows(governor: GovernorReport | undefined): [string, string][] {
  if (!governor) return [];
  const rows: [string, string][] = [];
  const { autopilot, budget } = governor;
  if (autopilot) rows.push(['Autopilot', `${autopilot.concurrency} of ${autopilot.ceiling}${autopilot.lastChange ? `, ${autopilot.lastChange.reason}` : ', no change yet'}`]);
  if (budget) {
    const spent = budget.spentToday === null
      ? `${amount(budget.unit, budget.limit)} a day; today's spending unknown (${budget.spentError})`
      : `${amount(budget.unit, budget.spentToday)} of ${amount(budget.unit, budget.limit)} spent today (UTC)`;
    rows.push(['Budget', budget.paused ? `${spent}; consumption paused until ${budget.resumesAt} (bedrock-queue resume overrides it)` : spent]);
  }
  return rows;
}

/** How `up` states the concurrency and the budget it set: fixed or the autopilot's ceiling, and the budget if any. */
export function governorSettingRows(settings: { concurrency: number; autopilot: boolean; budget: string; price: string }): [string, string][] {
  return [
    ['Concurrency', settings.autopilot ? `autopilot, from 2 to ${settings.concurrency} model calls in flight` : `${settings.concurrency} model calls in flight at most`],
    ...(settings.budget !== NONE ? [['Budget', `${settings.budget} (UTC days)${settings.price !== NONE ? ` at ${settings.price} dollars per million tokens` : ''}`] as [string, string]] : []),
  ];
}
