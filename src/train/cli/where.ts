/**
 * npm run eval:where -- --results results.json [--radius 0.04] [--descent 0.08] [--near 0.09] [--per-episode] [--out landings.json]
 *
 * Where the evaluated policy went (src/train/where.ts): replays every episode of a results
 * file written with `npm run eval -- --keep-actions`, finds where the tool first came down,
 * and sorts the failures into those that
 * came down on a goal object, on another object (the instruction was not grounded), or on
 * none (the objects were not found), and how far short of (or beyond) the named object the
 * landings near it came down. Ends with one JSON line of counts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { defineCli } from '../../cli/args.ts';
import { parseResults } from '../eval-results.ts';
import { landingCounts, meanGoalOffset, whereEpisodesWent } from '../where.ts';

const cli = defineCli({
  name: 'eval:where',
  command: 'npm run eval:where --',
  description: 'Replays the kept actions of an evaluation (eval --keep-actions) and says where each episode came down: on a goal object, on another object or on none. Ends with one JSON line of counts.',
  options: {
    results: { type: 'string', required: true, metavar: 'results.json', help: 'an eval results file written with --keep-actions' },
    radius: { type: 'number', above: 0, max: 1, default: 0.04, help: 'horizontal distance (m) within which the touchdown point counts as on an object' },
    descent: { type: 'number', min: -1, max: 2, default: 0.08, help: 'height (m) below which the tool counts as coming down; the touchdown point is the first one below it (else the lowest)' },
    near: { type: 'number', above: 0, max: 1, default: 0.09, help: 'the mean offset from the named object is taken over landings within this distance (m) of it' },
    'per-episode': { type: 'boolean', help: 'a line per episode' },
    out: { type: 'string', metavar: 'landings.json', help: 'every episode, as JSON' },
  },
});
const args = cli.parse();
const fail: (message: string) => never = cli.fail;

let text: string;
try {
  text = readFileSync(args.results, 'utf8');
} catch (e) {
  fail(`--results ${args.results}: ${(e as Error).message}`);
}
let json: unknown;
try {
  json = JSON.parse(text);
} catch (e) {
  fail(`--results ${args.results}: not JSON (${(e as Error).message})`);
}
const results = (() => {
  try {
    return parseResults(json, args.results);
  } catch (e) {
    return fail((e as Error).message);
  }
})();
const missing = results.episodes.filter((e) => !e.actions).length;
if (missing) fail(`--results ${args.results}: ${missing} of ${results.episodes.length} episodes have no actions; evaluate with --keep-actions`);

const landings = await whereEpisodesWent(results.episodes, { radius: args.radius, descent: args.descent }).catch((e: Error) => fail(e.message));
const cm = (m: number | null) => (m === null ? '-' : `${(m * 100).toFixed(1)} cm`);
if (args['per-episode']) {
  for (const l of landings) {
    console.log(
      `${l.taskId}#${l.initState} ${l.perturbation}: ${l.kind}; came down at (${cm(l.touchdown[0])}, ${cm(l.touchdown[1])}), nearest ${l.nearest} at ${cm(l.nearestDistance)}, goal object at ${cm(l.goalDistance)}${l.goalOffset ? ` (${cm(l.goalOffset.along)} along the approach)` : ''}; lowest z ${cm(l.lowest[2])}`,
    );
  }
}
const counts = landingCounts(landings);
const failed = landings.length - counts.success;
console.log(
  `${results.policy}: ${counts.success}/${landings.length} succeeded; of the ${failed} failures ${counts.goal_object} came down on a goal object, ` +
    `${counts.other_object} on another object, ${counts.no_object} on none (within ${cm(args.radius)})`,
);
const offset = meanGoalOffset(landings, args.near);
if (offset.n) console.log(`within ${cm(args.near)} of the named object: ${offset.n} landings, mean offset (${cm(offset.dx)}, ${cm(offset.dy)}), ${cm(offset.along)} along the approach (negative: short of it)`);
if (args.out) writeFileSync(args.out, JSON.stringify({ results: args.results, radius: args.radius, landings }, null, 1));
console.log(JSON.stringify({ policy: results.policy, episodes: landings.length, radius: args.radius, ...counts, goal_offset: offset }));
