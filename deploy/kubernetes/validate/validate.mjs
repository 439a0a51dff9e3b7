// Validates prometheus-operator objects against the operator's schemas, as
// @kubernetes-models/prometheus-operator ships them: compiled from the operator's API types into
// validate functions (there is no JSON schema file in the package to hand to a Python validator).
//
//   node validate.mjs < objects.json     # a JSON array of objects
//
// Prints one JSON array: {kind, name, errors} per object, errors empty when it is valid. An object of a
// kind without a schema here is an error, never a pass. tests/unit/test_kubernetes.py runs it.
import { readFileSync } from "node:fs";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";

const MODELS = { "monitoring.coreos.com/v1": { ServiceMonitor, PrometheusRule } };

function errorsOf(object) {
  const model = (MODELS[object.apiVersion] ?? {})[object.kind];
  if (model === undefined) {
    return [`no schema for ${object.apiVersion} ${object.kind} here`];
  }
  try {
    new model(object).validate();
    return [];
  } catch (error) {
    const details = error.errors ?? error.details;
    if (Array.isArray(details)) {
      return details.map((e) => `${e.instancePath || "/"}: ${e.message}`);
    }
    return [String(error.message ?? error)];
  }
}

const objects = JSON.parse(readFileSync(0, "utf8"));
const results = objects.map((object) => ({
  kind: object.kind,
  name: object.metadata?.name ?? "",
  errors: errorsOf(object),
}));
process.stdout.write(JSON.stringify(results) + "\n");
