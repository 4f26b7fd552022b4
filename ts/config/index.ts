/**
 * pyhost's mod_wsgi configuration layer: Apache configuration files with mod_wsgi directives,
 * read into a typed {@link SitePlan}.
 *
 * ```ts
 * import { loadConfig, formatPlan } from './config/index.js';
 * const plan = loadConfig('/etc/apache2/sites-enabled/site.conf', { defines: ['PRODUCTION'] });
 * console.log(formatPlan(plan));
 * ```
 */
export { loadConfig, type LoadOptions } from './load.js';
export { formatPlan } from './format.js';
export { settingsFor, type ResolvedSettings } from './resolve.js';
export { applicationGroupName, processGroupName, hostWithPort, isDynamicGroup, type GroupContext } from './groups.js';
export { aliasPrefixLength, urlMatches, directoryMatches, fileMatches } from './match.js';
export { UNIMPLEMENTED_OPTIONS } from './daemon.js';
export * from './plan.js';
