"""Reads an OpenMetrics text exposition on stdin and prints its samples as JSON, using the
reference parser of the Prometheus Python client (strict: a malformed exposition raises and
exits non-zero). Output: {"families": {name: type}, "samples": [[name, labels, value], ...]}."""
import json
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

families = {}
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = family.type
    for s in family.samples:
        value = s.value
        if isinstance(value, float) and math.isinf(value):
            value = "+Inf" if value > 0 else "-Inf"
        samples.append([s.name, s.labels, value])
json.dump({"families": families, "samples": samples}, sys.stdout)
