// Runs both npm LibreTranslate clients with their default settings against the server at
// process.argv[2] and prints what they returned as one JSON object (test_npm_clients.py judges
// it). An exception in a client is recorded, not thrown, so every call is reported.
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { translate } = require("libretranslate");
const { libreTranslate } = require("libretranslate-ts");

const url = process.argv[2];
const out = {};
async function record(name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { exception: String(e && e.message ? e.message : e) };
  }
}

// libretranslate: translate() lists /languages itself and rejects codes it does not find;
// its source defaults to "auto"
await record("libretranslate_translate", () =>
  translate({ query: "Open file", source: "en", target: "de", apiurl: url }));
await record("libretranslate_translate_auto", () =>
  translate({ query: "Save changes before closing?", target: "de", apiurl: url }));

// libretranslate-ts: no API key set, so it sends "api_key": null
libreTranslate.setApiEndpoint(url);
await record("ts_languages", () => libreTranslate.listLanguages());
await record("ts_detect", () => libreTranslate.detect("Datei öffnen"));
await record("ts_translate", () => libreTranslate.translate("Open file", "en", "de"));
await record("ts_translate_alternatives", () =>
  libreTranslate.translate("Save changes before closing?", "en", "de", 2));

console.log(JSON.stringify(out));
