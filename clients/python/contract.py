"""The schema `openapi.yaml` gives an operation's answer of one status, as a JSON Schema
2020-12 validator with formats checked."""

import jsonschema
import referencing
import yaml


class Contract:
    def __init__(self, path):
        self.document = yaml.safe_load(path.read_text())
        resource = referencing.Resource.from_contents(self.document, referencing.jsonschema.DRAFT202012)
        self.registry = referencing.Registry().with_resource("openapi.yaml", resource)

    def validate(self, operation_id, status, body):
        schema = {"$ref": "openapi.yaml#" + self._pointer(operation_id, status)}
        validator = jsonschema.Draft202012Validator(
            schema, registry=self.registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        if errors:
            raise AssertionError(f"{operation_id} {status}: " + "; ".join(
                f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]))

    def _pointer(self, operation_id, status):
        for path, item in self.document["paths"].items():
            for method, op in item.items():
                if op["operationId"] != operation_id:
                    continue
                response = op["responses"].get(str(status))
                if response is None:
                    raise AssertionError(f"{operation_id}: status {status} is not documented")
                escaped = path.replace("~", "~0").replace("/", "~1")
                if "$ref" in response:
                    return response["$ref"][1:] + "/content/application~1json/schema"
                return f"/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"
        raise AssertionError(f"unknown operation {operation_id}")
