/**
 * `npm run X -- --json` prints npm's banner ("> glasspane@0.1.0 X") on stdout before the script
 * even starts, so the JSON is not alone there; nothing inside the script can take it back.
 * `npm run -s` leaves it out (and then exports npm_config_loglevel=silent). Scripts that print
 * JSON say so on stderr when they see the banner went out.
 */
export function npmBannerNote(env: NodeJS.ProcessEnv = process.env): string | null {
  const script = env.npm_lifecycle_event;
  if (!script || env.npm_config_loglevel === 'silent') return null;
  return `note: npm printed its banner on stdout before this JSON; \`npm run -s ${script} -- --json …\` leaves it out`;
}
