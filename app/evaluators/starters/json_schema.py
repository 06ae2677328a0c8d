"""JSON validity and JSON-schema match.

Parses the reply as JSON (a ```json fenced block is unwrapped first). With a row field
`schema` (a JSON Schema, as an object or as JSON text) the value is also checked against it.
Score: 0.0 not JSON; 0.5 valid JSON that breaks the schema (the reason lists where); 1.0 valid
and matching (or valid, when the row has no schema). The validator is a small built-in subset
of JSON Schema: type, enum, const, properties, required, additionalProperties, items,
min/maxItems, min/maxLength, pattern, minimum/maximum (and exclusive), anyOf, allOf, oneOf.
"""

import json
import re
from typing import Any

FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, TYPES.get(name, object))


def check_number(value: Any, schema: dict, path: str) -> list[str]:
    errors = []
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: {value} < minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{path}: {value} > maximum {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        errors.append(f"{path}: {value} <= exclusiveMinimum {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        errors.append(f"{path}: {value} >= exclusiveMaximum {schema['exclusiveMaximum']}")
    return errors


def check_string(value: str, schema: dict, path: str) -> list[str]:
    errors = []
    if len(value) < schema.get("minLength", 0):
        errors.append(f"{path}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: does not match {schema['pattern']!r}")
    return errors


def check_object(value: dict, schema: dict, path: str) -> list[str]:
    errors = [f"{path}: missing {key!r}" for key in schema.get("required", []) if key not in value]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            errors += validate(item, properties[key], f"{path}.{key}")
        elif extra is False:
            errors.append(f"{path}: unexpected property {key!r}")
        elif isinstance(extra, dict):
            errors += validate(item, extra, f"{path}.{key}")
    return errors


def check_array(value: list, schema: dict, path: str) -> list[str]:
    errors = []
    if len(value) < schema.get("minItems", 0):
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: more than {schema['maxItems']} items")
    if isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], f"{path}[{i}]")
    return errors


def validate(value: Any, schema: Any, path: str = "$") -> list[str]:
    """Every way `value` breaks `schema` (empty list: it matches)."""
    if schema is True or not isinstance(schema, dict):
        return []
    expected = schema.get("type")
    if expected is not None:
        names = expected if isinstance(expected, list) else [expected]
        if not any(type_ok(value, name) for name in names):
            return [f"{path}: expected {'/'.join(names)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} not in {schema['enum']!r}"]
    if "const" in schema and value != schema["const"]:
        return [f"{path}: expected {schema['const']!r}"]
    errors: list[str] = []
    for sub in schema.get("allOf", []):
        errors += validate(value, sub, path)
    if "anyOf" in schema and not any(not validate(value, s, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema and sum(not validate(value, s, path) for s in schema["oneOf"]) != 1:
        errors.append(f"{path}: does not match exactly one of oneOf")
    if type_ok(value, "number"):
        errors += check_number(value, schema, path)
    elif isinstance(value, str):
        errors += check_string(value, schema, path)
    elif isinstance(value, dict):
        errors += check_object(value, schema, path)
    elif isinstance(value, list):
        errors += check_array(value, schema, path)
    return errors


def parse_reply(reply: str) -> Any:
    fenced = FENCE.search(reply)
    return json.loads(fenced.group(1) if fenced else reply.strip())


def evaluate(messages: list[dict[str, Any]], schema: Any = None, **fields: Any) -> dict:
    reply = str(messages[-1].get("content") or "")
    try:
        value = parse_reply(reply)
    except ValueError as exc:
        return {"score": 0.0, "reason": f"not valid JSON: {exc}"}
    if isinstance(schema, str):
        schema = json.loads(schema)
    errors = validate(value, schema) if schema is not None else []
    metrics = {
        "json_valid": {"score": 1.0, "reason": "parses as JSON"},
        "schema_errors": {"score": float(len(errors)), "reason": "; ".join(errors[:5]) or None},
    }
    if errors:
        return {
            "score": 0.5,
            "reason": "valid JSON, schema: " + "; ".join(errors[:5]),
            "metrics": metrics,
        }
    return {"score": 1.0, "reason": "valid JSON matching the schema", "metrics": metrics}
