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
 * A language tag as the editor gives it ("ja", "en-US", "zh-TW"), or undefined for anything else: it is
 * handed to i18next, which reads catalogs from disk by that name.
 */
export function languageTag(value: unknown): string | undefined {
  return typeof value === 'string' && /^[a-z]{2,3}(?:-[a-z0-9]{2,8}){0,2}$/i.test(value) ? value : undefined;
}

/**
 * The library's error texts in the runtime's language (Node-RED's `lang` setting or the process locale), or
 * in `lang` when given: the editor's, for an answer to the editor. Node-RED's runtime holds a language's
 * catalogs once an editor in that language has loaded them, which it does before any dialog opens; a
 * language it does not hold falls back to English.
 * An id the catalog lacks, as English always does, is left to the library's English.
 */
export function runtimeTranslate(RED: NodeAPI, lang?: string): Translate {
  return (id, vars) => {
    const key = runtimeKey(id);
    const out: unknown = RED._(key, lang ? { ...vars, lng: lang } : vars);
    // On a miss i18next answers the key, without its namespace.
    return typeof out === 'string' && out !== key && out !== key.slice(key.indexOf(':') + 1) ? out : undefined;
  };
}

/** Any failure as the error a Catch node gets, in the runtime's language: ours as it is, anything else INTERNAL. */
export function failureOf(err: unknown, translate: Translate): DefenderError {
  const error = err instanceof DefenderError ? err : new DefenderError('INTERNAL', message('unexpected', { reason: reasonOf(err) }));
  return error.translated(translate);
}
