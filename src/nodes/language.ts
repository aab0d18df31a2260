import type { NodeAPI } from 'node-red';
import { DefenderError } from '../defender/errors';
import { message, type Translate } from '../defender/messages';
import { reasonOf } from '../defender/realm';

/**
 * Where the runtime's error texts are translated (every node uses them): the detections node's catalog, and
 * the incidents node's for the texts only the incidents nodes have (ids `incident.*`), kept apart so that
 * either catalog can be reworked without touching the other.
 */
const CATALOG = 'node-red-contrib-defender-detections/defender-detections:defender-detections.runtime.';
const INCIDENTS_CATALOG = 'node-red-contrib-defender-detections/defender-incidents:defender-incidents.runtime.';

/** The catalog key of a text's id. */
export function runtimeKey(id: string): string {
  return `${id.startsWith('incident.') ? INCIDENTS_CATALOG : CATALOG}${id}`;
}

/**
 * The library's error texts in the runtime's language (Node-RED's `lang` setting or the process locale).
 * An id the catalog lacks, as English always does, is left to the library's English.
 */
export function runtimeTranslate(RED: NodeAPI): Translate {
  return (id, vars) => {
    const key = runtimeKey(id);
    const out: unknown = RED._(key, vars);
    // On a miss i18next answers the key, without its namespace.
    return typeof out === 'string' && out !== key && out !== key.slice(key.indexOf(':') + 1) ? out : undefined;
  };
}

/** Any failure as the error a Catch node gets, in the runtime's language: ours as it is, anything else INTERNAL. */
export function failureOf(err: unknown, translate: Translate): DefenderError {
  const error = err instanceof DefenderError ? err : new DefenderError('INTERNAL', message('unexpected', { reason: reasonOf(err) }));
  return error.translated(translate);
}
